import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseYamlWithLines } from '../config/load.js';
import { parseWith } from '../config/validate.js';
import { InputError } from '../errors.js';
import { RECIPE_NAMES } from './recipes.js';

/**
 * The data-pack registry: for every pack, its upstream repository and pinned commit, its licence, and every
 * file's path, sha256 and size (the facts in each pack's SOURCE.md). A file is obtained in one of three ways:
 * - `upstream`: byte-identical to `<base>/<owner>/<repo>/<commit>/<path>` (base: raw.githubusercontent.com
 *   or a mirror);
 * - `derived`: built by a named recipe (recipes.ts) from upstream source files, e.g. prompts that upstream
 *   keeps as Python string literals; the recipe reproduces the file byte for byte, so its sha256 is checked
 *   like any other;
 * - `mirror`: not available upstream as a file (e.g. re-typed from a paper PDF); only a mirror serving the
 *   same `<owner>/<repo>/<commit>/<path>` layout, or a local copy (`--from`), can provide it.
 * Hashes are facts and live here; file contents never do.
 */

export const DEFAULT_BASE_URL = 'https://raw.githubusercontent.com';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits');
// Relative, '/'-separated, no '.', '..' or empty segments: a registry must not write outside its pack folder.
const RelPath = z
  .string()
  .refine(
    (p) =>
      p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..' && !/[\\]/.test(seg)) &&
      [...p].every((c) => c.charCodeAt(0) >= 0x20),
    'expected a relative path with "/" separators and no "..", "." or empty parts',
  );

const FileBase = { path: RelPath, sha256: Sha256, bytes: z.number().int().nonnegative() };

const UpstreamFile = z.strictObject({
  kind: z.literal('upstream'),
  ...FileBase,
  /** The commit this file is pinned at, when it is not the pack's (a file upstream later removed). */
  commit: z
    .string()
    .regex(/^[0-9a-f]{40}$/, 'expected a 40-hex-digit commit')
    .optional(),
});
const DerivedFile = z.strictObject({
  kind: z.literal('derived'),
  ...FileBase,
  /** Name of the recipe that builds the file (see recipes.ts). */
  recipe: z.enum(RECIPE_NAMES),
  /** Upstream files the recipe reads, fetched like upstream files; checked when a sha256 is known. */
  sources: z.array(z.strictObject({ path: RelPath, sha256: Sha256.optional() })).min(1),
});
const MirrorFile = z.strictObject({
  kind: z.literal('mirror'),
  ...FileBase,
  /** Where the file comes from, for the message shown when it cannot be obtained. */
  origin: z.string(),
});
const PackFile = z.discriminatedUnion('kind', [UpstreamFile, DerivedFile, MirrorFile]);

const Pack = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'expected a lower-case pack name'),
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected owner/name'),
    commit: z.string().regex(/^[0-9a-f]{40}$/, 'expected a 40-hex-digit commit'),
    licence: z.string(),
    files: z.array(PackFile).min(1),
  })
  .refine((p) => new Set(p.files.map((f) => f.path)).size === p.files.length, 'file paths must be unique');

const RegistryDoc = z.strictObject({ packs: z.array(Pack) });

export type PackFile = z.infer<typeof PackFile>;
export type DerivedFile = z.infer<typeof DerivedFile>;
export type Pack = z.infer<typeof Pack>;
export type Registry = z.infer<typeof RegistryDoc>;

const upstream = (path: string, sha256: string, bytes: number, commit?: string): PackFile => ({
  kind: 'upstream',
  path,
  sha256,
  bytes,
  ...(commit ? { commit } : {}),
});
const derived = (
  path: string,
  sha256: string,
  bytes: number,
  recipe: DerivedFile['recipe'],
  sources: DerivedFile['sources'],
): PackFile => ({ kind: 'derived', path, sha256, bytes, recipe, sources });
const mirrorOnly = (path: string, sha256: string, bytes: number, origin: string): PackFile => ({
  kind: 'mirror',
  path,
  sha256,
  bytes,
  origin,
});

export const BUILTIN_REGISTRY: Registry = {
  packs: [
    {
      name: 'codeattack',
      repo: 'renqibing/CodeAttack',
      commit: 'aafffa9bb997c9e37f994a4b733a2361ee557814',
      licence: 'MIT',
      files: [
        upstream('LICENSE', 'cb9108ecac8fc05d562cf0aebbb89fca1a18a410205b5fb9455710ef73d55116', 1067),
        upstream(
          'data/harmful_behaviors.csv',
          '6cd1a5c63c07610d7eb67307772ee5606017ee950b5770ab288a2c487489d3e1',
          82125,
        ),
        derived(
          'judge/qi2023_gpt4_judge.json',
          '291a46e665b36afc9574163090c3903d3261a05693fa07d701d6759d3133742e',
          4723,
          'codeattack/qi2023-gpt4-judge',
          [{ path: 'judge.py', sha256: 'ffe6ffa71c8a241eaaade63ae5f05fc37d584f14c80e6596dcce321a72b1393d' }],
        ),
        upstream(
          'prompt_templates/code_C_string.txt',
          'a3d109cb5f180b2f209a106e6417627c75c77cfcb79e14014b77d41ba4e17c23',
          1173,
        ),
        upstream(
          'prompt_templates/code_go_string.txt',
          '966b1dd39ab5ba4cf44b4c7d219acb0e725ec5676a050a7804f45b5646929dde',
          1364,
        ),
        upstream(
          'prompt_templates/code_python_list.txt',
          'a1a58c3c31d7342890a0a33f183ab566e3bbc5166b503e78ca978d01063578ea',
          810,
        ),
        upstream(
          'prompt_templates/code_python_list_plus.txt',
          'ea873b86404bfaa8de471e1881718d04a7cea67311733b855b52183c3555a35c',
          1016,
        ),
        upstream(
          'prompt_templates/code_python_stack.txt',
          '8bd49d343940b21f7c72182c8163ac7b859a067fb036358deeb80e0694bde657',
          873,
        ),
        upstream(
          'prompt_templates/code_python_stack_plus.txt',
          '81a9c36dfcac548a11bd7c7df2ee73031a36be9791e9db8d99e70af9572329b8',
          1084,
        ),
        upstream(
          'prompt_templates/code_python_string.txt',
          'eb6d17c7b3e2b6b3062460a08fc291dd670682a61925e0133791ec0e25c3e7b5',
          747,
        ),
        upstream(
          'prompt_templates/code_python_string_plus.txt',
          '327ef9211eb69628c75edb2f8d7b2e8d6799b43db1140c5d94979e696dd0a106',
          958,
        ),
        upstream(
          'prompts/data_ciphers.json',
          '0f47b0dc75ba8ce0c196e79a65d8ebd747967b3fdf24da2869e1bb33ae7fbb20',
          808005,
        ),
        upstream(
          'prompts/data_python_list_full.json',
          '2638db12280d61298bb2c65db965e1644c4feb0ceca490e5a7bc6db89e31f2f3',
          686643,
        ),
        upstream(
          'prompts/data_python_stack_full.json',
          '5a03260a5cb4242a17d537c5a548089d00eec5f11e7b5ff05432e6b9e1b9e872',
          727774,
        ),
        upstream(
          'prompts/data_python_string_full.json',
          'b5477bc75ff00dfac2554ac3979b3dad12bdf08a3d7e0dd24dc72be8e30faf66',
          507008,
        ),
      ],
    },
    {
      name: 'derta',
      repo: 'RobustNLP/DeRTa',
      commit: '70bdb52b5e139f32f5a723b5f09d2b0befa81657',
      licence: 'MIT',
      files: [
        upstream('LICENSE', '0719b12b9060d719c1727500f270bd0005f0b654cbe358529990c6a6b4353c27', 1066),
        upstream(
          'data/test/helpfulness_alpaca_eval_300.json',
          'f187839cac36fe91f186b8049532c1996b71862aba154dc46fc2f855dfd771a5',
          57426,
        ),
        upstream(
          'data/test/helpfulness_gsm8k_500.json',
          'ccdcb02cf6a19fc84900e072cb32f4cfee591fa2bcdf0c1b29777b3fa16b7b16',
          288475,
        ),
        upstream(
          'data/test/helpfulness_mmlu_500.json',
          '8ca517950e024a40d8594cdfb8c0f8827671286f376696e461fd2e0016cd5ce3',
          262860,
        ),
        upstream(
          'data/test/safety_codeattack.json',
          '66b749d114a05f1bb2bb3ed218cdbac1ffc1a3c493fc0f60452977762d5e99d0',
          273429,
        ),
        upstream(
          'data/test/safety_completionattack.json',
          '2375fa405d5bed8ae6ca24749f12c993d90c83cde1ef41b856a9e8538c46c696',
          27817,
        ),
        upstream(
          'data/test/safety_illegal_instructions_200.json',
          'd77c96592c8ef1ea680a61876bbe91f49749f8283a633f74e84f35906329f01d',
          18853,
        ),
        upstream(
          'data/test/safety_jailbreakchat.json',
          '65d8e52636e055d2c1da5b855f15d34cf0328f8b2d5dba24828ed574d32e48d2',
          226321,
        ),
        upstream(
          'data/test/safety_selfcipher.json',
          '0b47727e970825a0d6b6e64aacdea77e04ddd45aa2e2e05cbb0cb4bb8d64cd3e',
          370053,
        ),
        upstream(
          'data/train/example_data_to_read.json',
          '4f627c4eb7636a14255dcb56af43b0aa625d7c94289c8a51c8fde8f8d88130ce',
          2327,
        ),
        mirrorOnly(
          'judge/appendix_c_guideline.txt',
          '09402c6c62e1e8f3789664d0591562631fedc9da6111919d2804fc6f0f178a87',
          1321,
          'Appendix C of the paper PDF (paper/Refuse_Whenever_You_Feel_Unsafe__Improving_Safety_in_LLMs_via_Decoupled_Refusal_Training.pdf), re-typed from the PDF text layer',
        ),
        upstream(
          'results/helpfulness/alpacaeval/lora_Llama-3-70B_vanill_eval_alpaca_eval_300.json',
          'a9f563ab18742e8d0e53169c434e86b7c56e466f44d3626c9d137eb0ed294b69',
          311843,
        ),
        upstream(
          'results/helpfulness/gsm8k/lora_Llama-3-70B_vanill_eval_gsm8k_500.json',
          'ee2f4f1281eed2a86cee5fcf58420e8d65b9c49f3c61f00d99ee7d55c5fcd755',
          575019,
        ),
        upstream(
          'results/helpfulness/mmlu/lora_Llama-3-70B_vanill_eval_mmlu_500.json',
          'c17fc9440780f805d1de1da21ee7b812d87ba6ee58e066669d5042f7316b877f',
          373736,
        ),
        upstream(
          'results/safety/autodan/lora_Llama-3-70B_vanill_autodan_llama-3-70B-vanilla_50.json',
          '7d85616ae17884b172130619765d86d444f057834218ba3584a18bc295d98a79',
          84407,
        ),
        upstream(
          'results/safety/codeattack/lora_Llama-3-70B_derta_eval_codeattack_200.json',
          'c0d652c3640fc92914546a2621b81169c70db9136eba5d050061b1ad2d8e13e2',
          651916,
        ),
        upstream(
          'results/safety/codeattack/lora_Llama-3-70B_vanill_eval_codeattack_200.json',
          'ef87ae47fd5d53cc3ecb2b958a9afc86cf93fe0d4154cb7f980a2c747e6fe0fe',
          635548,
        ),
        upstream(
          'results/safety/completionattack/Llama-3-8B_derta_eval_completionattack_200.json',
          '6bfeaeefa3a426c2814b24f738c97d6ffb73d09c3ddf2b1af70164c9f6e2b4b9',
          94459,
        ),
        upstream(
          'results/safety/completionattack/Llama-3-8B_vanill_eval_completionattack_200.json',
          'b07f64918e6c1c77a4b895e38a1d963b9f6160bac9fe77972ac9cb988d86a506',
          223851,
        ),
        upstream(
          'results/safety/jailbreakchat/lora_Llama-3-70B_vanill_eval_jailbreakchat_200.json',
          '5ea80f4aa58319a875dc4cc42a977a35866732deb6301d8b55792fb77e23f203',
          379741,
        ),
        upstream(
          'results/safety/pair/PAIR_result_llama-3-70B-vanilla.json',
          '03af6c477ac2628afc8b0a76b8403249a75bf435e9309ea4ef5983a351878cb1',
          73731,
        ),
        upstream(
          'results/safety/selfcipher/lora_Llama-3-70B_vanill_eval_selfcipher_200.json',
          '1489bcd4b764fc88dbffe25c608dd4b4f964cd09c393f5793f7297410ba4f23e',
          461318,
        ),
      ],
    },
    {
      name: 'pair',
      repo: 'patrickrchao/JailbreakingLLMs',
      commit: '6379ef705a0fc745530f7d895963510c021b496a',
      licence: 'MIT',
      files: [
        upstream('LICENSE', 'b04a921fdd6456dcbad221bb740a432f563d377fcd51368d1181a4b1e02d6a94', 1066),
        upstream(
          'data/harmful_behaviors_custom.csv',
          '66af8279f7690e1b83f8edeeeef0ff5c9da099e994ef54ecc14bdaf5fa759de2',
          8904,
        ),
        derived(
          'prompts/pair_system_prompts.json',
          '6e5bc916d7049823319d71fe757b71e1a22e3a655fb9e7ad072157971c82bffd',
          22446,
          'pair/system-prompts',
          [{ path: 'system_prompts.py' }, { path: 'common.py' }],
        ),
      ],
    },
    {
      name: 'xstest',
      repo: 'paul-rottger/exaggerated-safety',
      commit: 'd7bb5bd738c1fcbc36edd83d5e7d1b71a3e2d84d',
      licence: 'CC-BY-4.0',
      files: [
        upstream('LICENSE', '9e5f1b3c610b9c2da5c313bf81d577a7d1acec686bdb0384edefa6df0f90cd94', 18656),
        upstream(
          'model_completions/xstest_v2_completions_mistralinstruct.csv',
          '6a146b65a5b96ec8249729bc2db459697175125998d7cbbcc88f7688ecf31dad',
          371935,
        ),
        upstream(
          'xstest_prompts.csv',
          '11783fb294ed017473ee53c207d71f2161c7672c8d0b037501e78387f801cb5a',
          38719,
        ),
      ],
    },
    {
      name: 'harmbench',
      repo: 'centerforaisafety/HarmBench',
      commit: '8e1604d1171fe8a48d8febecd22f600e462bdcdd',
      licence: 'MIT',
      files: [
        upstream('LICENSE', 'fe29c68dd1216e81e98a6069165e1c720757b23bbcaa6c0cb8f9a957bdaaca80', 1074),
        upstream(
          'data/behavior_datasets/harmbench_behaviors_text_all.csv',
          '8d81accedd38eaaf8b760618622bb888417d1fd0c86eba65c427a16f1cbb4afc',
          198850,
        ),
        upstream(
          'data/behavior_datasets/harmbench_behaviors_text_test.csv',
          '75d257b3e7428c52eb7b0154318f455af3e01b09a3794b5e2f3d36054f3c0e29',
          160828,
        ),
        upstream(
          'data/behavior_datasets/harmbench_behaviors_text_val.csv',
          '7bfaaa5e2b9b95002c89e2d33c019f58e9e8496e2fc65d368f1eeb8179e69534',
          38024,
        ),
        upstream(
          'data/behavior_datasets/harmbench_behaviors_multimodal_all.csv',
          '0a4dd6bd0df2a52d1d9ee25f3d018af49b52b61ee2ccdaaac16b9660f753145d',
          137713,
        ),
        upstream(
          'data/classifier_val_sets/text_behaviors_val_set.json',
          'e740727b6874e492063e097122a9916833d57f9bd2ce3e86713ec188741a41c8',
          1875939,
        ),
        upstream(
          'data/classifier_val_sets/multimodal_behaviors_val_set.json',
          '92fd5d3c27395db4af0d641e2b0f9fefbb5739380b5b97e5079b2d1e55334347',
          360084,
        ),
        mirrorOnly(
          'judge/harmbench_cls_prompts.json',
          '51fb2f5bbf2d55e61ae3136aa1533215a393013b4593518faaab92263d8a0cd4',
          12410,
          'derived from upstream Python source by ast.literal_eval, not a file upstream (see the pack SOURCE.md)',
        ),
      ],
    },
    {
      name: 'jailbreakbench',
      repo: 'JailbreakBench/jailbreakbench',
      commit: '04f9f94844f09bd2168d3d83e5dd870cded9fc57',
      licence: 'MIT',
      files: [
        upstream('LICENSE', '7e1ae8f3676f39ff6e62af1743385c176a9476b1157f35bb9d05b4e6c65b7d94', 1076),
        upstream(
          'src/jailbreakbench/data/behaviors.csv',
          '45e9a8923b28f547bb372fbaa9af7df8b38c818a80ae50c3bab97704197ff516',
          23111,
          '28aa816c03c30d0d6c69befa19089dae6ec29e88',
        ),
        mirrorOnly(
          'judge/jbb_judge_prompts.json',
          '1a8da1825e2a72154090f5f14f912906dcbb548e01bbaba99884c0b85665a559',
          8377,
          'derived from upstream Python source by ast.literal_eval, not a file upstream (see the pack SOURCE.md)',
        ),
      ],
    },
    {
      name: 'jailbreakbench-artifacts',
      repo: 'JailbreakBench/artifacts',
      commit: '909e68c01d94222b8ad2e397a017e2e12e2adb73',
      licence: 'MIT',
      files: [
        upstream('LICENSE', '09017abee723a7b715866bbcd1bd2569e0a5fa7e996dd1d9d1ec4b36fb5ca51c', 1098),
        upstream(
          'attack-artifacts/PAIR/black_box/vicuna-13b-v1.5.json',
          '18b101386419a98fbdf45cb987069f83af3a40d5e0f7f0d32c4e9dc5ecc049b4',
          149383,
        ),
        upstream(
          'attack-artifacts/GCG/white_box/vicuna-13b-v1.5.json',
          '9eff8b6f78cae002737868ca8cdd886be5afcd1cbbbe4cf51ff837bc688b01b1',
          134533,
        ),
      ],
    },
    {
      name: 'wildguard',
      repo: 'allenai/wildguard',
      commit: '495b9dc837be594c6c5665b0f7f56169baf0d5be',
      licence: 'Apache-2.0',
      files: [
        upstream('LICENSE.md', '36ea8072e4d544e094f6c50d2b53bfede0e06cfa050dfdba9a579de22051dc47', 688),
        mirrorOnly(
          'judge/wildguard_input_format.json',
          'c07c0c653f6618842594d0b43429ec852b026c2fcab59b44a2e0aa4c857d3b7a',
          2161,
          'derived from upstream Python source by ast.literal_eval, not a file upstream (see the pack SOURCE.md)',
        ),
      ],
    },
    {
      name: 'tap',
      repo: 'RICommunity/TAP',
      commit: '7bcdad30537c679d00699fac16052dc916c89a6d',
      licence: 'MIT',
      files: [
        upstream('LICENSE', 'ec7bcccc7383e912e22569d4bed157753bf437d6568c6c663a5155b4c5838e25', 1086),
        upstream('readme.md', '8ab1d28451a4ce14d6146405fba499c2de6577989109fc53ad04b92421b15675', 5280),
        upstream(
          'system_prompts.py',
          '63a51e9c5dde3dfa441197dc0af8eaeb027c4c2f04b3d9fad537eceb414861c9',
          8141,
        ),
        upstream('common.py', '09bcf209e6ee1bb02b3a38e984abb99c96f0655c542e0abb0ea1b7ba22e663b1', 2262),
        upstream('evaluators.py', 'b598edf4ae1337e1f085df679b6628a78fa7867f2174d4c9463376f8b11a900d', 4810),
        upstream('conversers.py', 'd785675c9f7084ff2b55cb9c93f10816f398b87351bd6b232d0317a28b92ff61', 11736),
        upstream('main_TAP.py', '4d82568a3881c2e1c8a818594b64a4fb58156c8a2140269e1974220a0474a125', 13673),
        upstream('config.py', 'e6685ac135f579f5fbedec3b15a5d3e2d3a1c2df166354fa2b725c126c619f88', 394),
        upstream(
          'data/advbench_subset.csv',
          '66af8279f7690e1b83f8edeeeef0ff5c9da099e994ef54ecc14bdaf5fa759de2',
          8904,
        ),
      ],
    },
    {
      name: 'actorattack',
      repo: 'renqibing/ActorAttack',
      commit: 'eabe0692665ab0a3e9fa1c03d2cd2f8acc8b2358',
      licence: 'none (no licence file upstream)',
      files: [
        upstream('README.md', '05639af1b7a726b121c3c9aa05f9e1643c840b18d8199bd856270b3657683ebc', 4638),
        upstream('config.py', '095edeb840a69cbea75c03c2aaf82e40ecc1eecf748e26a63527bc823413abee', 2016),
        upstream('preattack.py', '6fe71973195016335d5514725def5ee9c09a08bf3d93ca1beec140e816312f33', 5310),
        upstream('inattack.py', 'd00c3c0c6e2bf82fe7c3852ce84febe4e9ce2e347f69095174dd8153ca21b11a', 8128),
        upstream('judge.py', 'cc24226464537c7d51cae35aeef6d5189d1b35268d95d7d755652069a6184a4e', 6415),
        upstream('utils.py', '7b860b30351b121aca8c6da398f1b7a50ca37d80af50be2ce11cc80ac16a3420', 4349),
        upstream(
          'construct_dataset.py',
          'c286a0658c6648d0227f50501cd10a0fae00d847954b1e073471aa57570724db',
          4885,
        ),
        upstream(
          'prompts/1_extract.txt',
          'abe3d630a0e3986fe6a9f1a959236d0b978813f9d0fc4865f862f2dc8b06d94e',
          1999,
        ),
        upstream(
          'prompts/2_network.txt',
          '0bc796c74b669f4ca97557514259e380cd0ee7eb0be3ebfc91b69ddb195745fa',
          2219,
        ),
        upstream(
          'prompts/3_actor.txt',
          '4f223f802807bfca129afcf67b29ec837ce7188788d56bc9f25508896de4a702',
          255,
        ),
        upstream(
          'prompts/3_more_actor.txt',
          '2ef3718b968521bc32e466d70430b75e317ccc2e1873655a37d91f38246175bc',
          396,
        ),
        upstream(
          'prompts/4_queries.txt',
          '9ee23d1d14b927c5be783f95d7298f7e2de52fc061affd262e3e86a55b028e96',
          3617,
        ),
        upstream(
          'prompts/5_json_format.txt',
          '13adbacf70707a41cba048036c5e3656969c7e06865991e9426559d5a2b8175b',
          531,
        ),
        upstream(
          'prompts/attack_modify.txt',
          'f1c7ea4be4924afc62a4b0af9711db006951636a1b52a5bd4ab336a4fcaf4c05',
          2030,
        ),
        upstream(
          'prompts/attack_step_judge.txt',
          '1c5b047ea1fc640a4b8c6e85cd6c2e8efa31e41691adb69aafbc23cf106303c1',
          702,
        ),
        upstream(
          'prompts/get_safe_response.txt',
          'f3fde17e0b32900f31af95a4243c32fa63062e88b6022886c9b51e42e62d8da1',
          535,
        ),
        upstream(
          'data/harmbench.csv',
          '365e73e20b7131e4cda547683e161a0c9dfd4913b221c13ab97e433b9c0cb6d7',
          30724,
        ),
        upstream(
          'data/circuit_breaker_train.csv',
          'e3c1c736561da5069deb4b6c15be7eff7dfc201153b0130d84e992a4a086003e',
          84218,
        ),
      ],
    },
    {
      name: 'codechameleon',
      repo: 'huizhang-L/CodeChameleon',
      commit: '16a19920fae0a3f227fb3900838e9079defe938b',
      licence: 'none (no licence file upstream)',
      files: [
        upstream('README.md', 'c4a0c60ef0fb07f6a1a6eb0f457bc785f0fd50fed9e7534bbe2c90eaba27d582', 1861),
        upstream('template.py', 'db1f1e933b2fc66bd11a8ef7def6b83c289399abd4c6ac2a222527dfe37bd97c', 8643),
        upstream('encrypt.py', '32989532e0c93f7735f41f3614a153cda972a9b9cc142044fb11c3ddf904a6f6', 3044),
        upstream('decrypt.py', '115b94e503ab15de73eae919dd7a475d7929fbb8a72d72bcf63fbc12470e7cc3', 2627),
        upstream('utils.py', '2990f1143c1d9ee6534ddd1168f9d569dfc1d6cfc49c4b4901ea9f5a7e6a3349', 2820),
        upstream('attack.py', '8089f6c308dcaf9797a5003cd5c578a2a75014a7f0c8168961df92a4a8a472a8', 5187),
        upstream(
          'gpt_evaluate.py',
          '76879d6ad5bad02b5932d2b8c1311fe1262511ede2627c3c41249f2975b64ff1',
          11121,
        ),
        upstream(
          'data/all_problem.csv',
          '66da392a3015246d89db0b1b3db1fc6a79a4899358e62ae0271b3a63d514ed32',
          72431,
        ),
      ],
    },
    {
      name: 'flipattack',
      repo: 'yueliu1999/FlipAttack',
      commit: '01a44c77d03e9c7bee0c39cd4115c73f785ce1d8',
      licence: 'none (no licence file upstream)',
      files: [
        upstream('README.md', '543f927adc16f87869fdd3b4b596d8660e5acd7837b93c52b0519d69ef45e6d6', 12678),
        upstream(
          'src/flip_attack.py',
          '07ffa54f0bc7675f91231832ffc71c74dc81bfb158412d785034de7aeb249694',
          10486,
        ),
        upstream('src/main.py', '90acafc5c0e10c6afcb17de1f3ac7a04058c661e75b2279337200bee610191fc', 6175),
        upstream('src/llm.py', '5d26b3972058de930d194a6fb911de47004c692293f3a908101c8879be895e57', 7328),
        upstream(
          'src/eval_util.py',
          '3910ea4482221d41b61b21c81cc00239181d294610e501bc6f56bab44731b4e0',
          3411,
        ),
        upstream(
          'src/eval_dict.py',
          '951b5f2223ddc22f7e24a1093a44f679610f4f7f26ae79bb4305707c67b04ea5',
          2706,
        ),
        upstream('src/eval_gpt.py', '0d3d62665dfa2dc191caefc20c497ab0da75cb9760144cfc45f7544100993d62', 1538),
        upstream(
          'data/harmful_behaviors_subset.csv',
          'a53fdb4ef283e588f2b530edbc6cf6a488c54c24c769f4c388ff91d905e16887',
          8763,
        ),
        upstream(
          'result/FlipAttack-gpt-4o-mini.json',
          '6d004ff5f24396d5317be09fe9f3621ac0f4e29ebc93ded021d0d65d523bed8b',
          1897987,
        ),
        upstream(
          'result/FlipAttack-gpt-3.5-turbo.json',
          '03733bc6825c3bd77b3914d43fe74604e549fa58c4c0fc2a71df357ead7034c8',
          1010207,
        ),
      ],
    },
    {
      name: 'bon',
      repo: 'jplhughes/bon-jailbreaking',
      commit: 'c11821039caa3afab3e17123c0400c7a236b0cd6',
      licence: 'MIT',
      files: [
        upstream('LICENSE', '280ae8371c3be76aad58d096029af07a5017a615e269e1ad71e02c3079f0b0b9', 1065),
        upstream('README.md', '6db4e207fa76ace960501a77d421a5550c5a26c62cd837fd5257072e23b60a0d', 2110),
        upstream(
          'bon/attacks/run_text_bon.py',
          'ac2c33a6ea06d5c3d4a76c929f3b20d69410eabe9a47ffc023334f631d4aef6d',
          30008,
        ),
        upstream(
          'bon/data_prep/augmentation.py',
          '888fc82b5f0f62c874e1aef966934f18735f94797195e3c27c2bcc58889d8620',
          15643,
        ),
        upstream(
          'bon/utils/text_utils.py',
          'b765f831880b0512b949e9b4742d56d5d1606fdb1b4a53eefe13e4bde9abbc68',
          1925,
        ),
      ],
    },
  ],
};

/**
 * The built-in registry, or the built-in one with the packs of a registry file (for mirrors and tests) laid
 * over it: a pack in the file replaces the built-in pack of the same name; new names are added.
 */
export function loadRegistry(overrideFile?: string): Registry {
  if (!overrideFile) return BUILTIN_REGISTRY;
  let text: string;
  try {
    text = readFileSync(overrideFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new InputError(`cannot read registry file: ${code}`, { file: overrideFile });
  }
  const { value, lineOf } = parseYamlWithLines(text, overrideFile);
  const doc = parseWith(RegistryDoc, value, [], { file: overrideFile, lineOf });
  const names = doc.packs.map((p) => p.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new InputError(`pack '${dup}' is listed twice`, { file: overrideFile, field: 'packs' });
  const replaced = new Set(names);
  return { packs: [...BUILTIN_REGISTRY.packs.filter((p) => !replaced.has(p.name)), ...doc.packs] };
}

/** The packs named (all when none), or an InputError naming the unknown one and the known ones. */
export function selectPacks(registry: Registry, names: string[] = []): Pack[] {
  if (!names.length) return registry.packs;
  return [...new Set(names)].map((name) => {
    const pack = registry.packs.find((p) => p.name === name);
    if (!pack) {
      const known = registry.packs.map((p) => p.name).join(', ');
      throw new InputError(`unknown data pack '${name}' (known packs: ${known})`);
    }
    return pack;
  });
}

/** Where a pack's file lives upstream (or on a mirror with the same layout). */
export function fileUrl(baseUrl: string, pack: Pack, path: string, commit = pack.commit): string {
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  return `${baseUrl.replace(/\/+$/, '')}/${pack.repo}/${commit}/${encoded}`;
}

/** Pack name → pinned upstream commit; recorded with every run. */
export function packCommits(registry: Registry = BUILTIN_REGISTRY): Record<string, string> {
  return Object.fromEntries(registry.packs.map((p) => [p.name, p.commit]));
}
