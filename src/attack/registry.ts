import { PluginRegistry } from '../config/plugin-registry.js';
import type { Attack, AttackEnv, AttackFactory } from './attack.js';

/** Every attack a config or `refusenik prompts` can name, loaded when named. Add new attack families here. */
export const ATTACKS = new PluginRegistry<AttackEnv, Attack[], AttackFactory>('attack', [
  {
    name: 'plain',
    description: 'the goal as the user message (the no-attack baseline)',
    load: async () => (await import('./plain.js')).plainAttack,
  },
  {
    name: 'pair',
    description:
      'PAIR: an attacker model iteratively refines jailbreak prompts, steered by a 1-10 judge (search)',
    load: async () => (await import('./pair/pair.js')).pairAttack,
  },
  {
    name: 'codeattack',
    description:
      'CodeAttack (Ren et al., 2024): the goal encoded in a code-completion task; modes paper|head|derta|refusenik',
    load: async () => (await import('./codeattack/index.js')).codeAttack,
  },
  {
    name: 'autodan',
    description:
      'AutoDAN-HGA: genetic search over jailbreak prompts, log-likelihood or judge fitness (search)',
    load: async () => (await import('./autodan/autodan.js')).autodanAttack,
  },
  {
    name: 'helpfulness',
    description:
      'helpfulness prompt formats (not an attack): task gsm8k|mmlu|alpaca, format chat (default) or derta ' +
      "(DeRTa evaluation.py's raw [INST] text for base-model checkpoints)",
    load: async () => (await import('./helpfulness/index.js')).helpfulnessAttack,
  },
  {
    name: 'completion',
    description:
      'CompletionAttack (DeRTa): a declarative prefix ("I will explain how to ...:\\n Step 1:") completed as raw ' +
      'text with no chat template; modes derta (the prefix as given), generate (attacker model), rule; ' +
      'delivery prefill for chat-only APIs (a different threat model)',
    load: async () => (await import('./completion/index.js')).completionAttack,
  },
  {
    name: 'jailbreakchat',
    description:
      'JailbreakChat templates around the goal (the 50 DeRTa used, recovered from the derta pack, plus your ' +
      'own files); modes derta (the paper pairing), random (one per goal by seed), all (one variant each)',
    load: async () => (await import('./jailbreakchat/index.js')).jailbreakChatAttack,
  },
  {
    name: 'selfcipher',
    description:
      'SelfCipher / CipherChat (Yuan et al., 2023): modes derta (DeRTa safety_selfcipher.json), codeattack ' +
      '(CodeAttack data_ciphers.json), cipherchat (cipher: selfcipher|caesar|atbash|morse|ascii|unicode|base64)',
    load: async () => (await import('./selfcipher/index.js')).selfCipherAttack,
  },
  {
    name: 'prefill',
    description:
      'prefill depth (Qi et al., 2024): the first k tokens (default 0,5,10,20,40) of a real harmful response ' +
      'open the assistant turn; exact counts in the target tokenizer; delivery template (completions + the ' +
      'chat template rendered here) | prefill (Anthropic) | continue (continue_final_message)',
    load: async () => (await import('./prefill/index.js')).prefillAttack,
  },
  {
    name: 'flipattack',
    description:
      'FlipAttack (Liu et al., 2024): the goal flipped (flip_mode FWO|FCW|FCS|FMM) with guidance (cot, lang_gpt, ' +
      "few_shot); upstream's chat byte for byte, prompts read from the flipattack pack",
    load: async () => (await import('./flipattack/index.js')).flipAttack,
  },
  {
    name: 'codechameleon',
    description:
      'CodeChameleon (Lv et al., 2024): the goal encrypted (reverse|binary_tree|odd_even|length) with its ' +
      "decryption function, text or code style; upstream's API chat byte for byte from the codechameleon pack",
    load: async () => (await import('./codechameleon/index.js')).codeChameleonAttack,
  },
  {
    name: 'bon',
    description:
      'Best-of-N (Hughes et al., 2024): augmented goals (word scrambling, random capitals, ASCII noise, sigma) ' +
      "sampled until the judge calls an answer harmful, up to a budget; upstream's augmentations per seed (search)",
    load: async () => (await import('./bon/index.js')).bonAttack,
  },
  {
    name: 'tap',
    description:
      'TAP (Mehrotra et al., 2024): tree of attacks with pruning; the attacker branches, off-topic prompts are ' +
      'pruned, the width best-rated survive each depth (b=4, w=10, d=10); prompts from the tap pack (search)',
    load: async () => (await import('./tap/index.js')).tapAttack,
  },
  {
    name: 'crescendo',
    description:
      "Crescendo (Russinovich et al., 2024): escalating turns built on the target's own answers, refused turns " +
      'backtracked out of its history and rephrased; refusal and progress judges (multi-turn search)',
    load: async () => (await import('./crescendo/index.js')).crescendoAttack,
  },
  {
    name: 'actorattack',
    description:
      'ActorAttack (Ren et al., 2024): actor network, per-actor question chains, refused questions rewritten ' +
      'on the fly, step judge; prompts from the actorattack pack (multi-turn search)',
    load: async () => (await import('./actorattack/index.js')).actorAttack,
  },
  {
    name: 'manyshot',
    description:
      'many-shot jailbreaking (Anil et al., 2024): k faux harmful Q&A dialogues from a responses file before the ' +
      'goal (k default 1..256, one variant each), as chat turns or one transcript; token budget checked',
    load: async () => (await import('./manyshot/index.js')).manyShotAttack,
  },
]);

/** A config entry: `name` or `{name: options}`. */
export type AttackSpec = string | Record<string, unknown>;

export function createAttacks(spec: AttackSpec, env: AttackEnv, path: string): Promise<Attack[]> {
  return ATTACKS.create(spec, env, path);
}
