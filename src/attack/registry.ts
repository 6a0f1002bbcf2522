import { InputError } from '../errors.js';
import type { Attack, AttackEnv, AttackFactory } from './attack.js';
import { plainAttack } from './plain.js';
import { codeAttack } from './codeattack/index.js';
import { pairAttack } from './pair/pair.js';
import { autodanAttack } from './autodan/autodan.js';
import { helpfulnessAttack } from './helpfulness/index.js';
import { completionAttack } from './completion/index.js';
import { jailbreakChatAttack } from './jailbreakchat/index.js';
import { selfCipherAttack } from './selfcipher/index.js';

/** Every attack a config or `refusenik prompts` can name. Add new attack families here. */
const FACTORIES: AttackFactory[] = [
  plainAttack,
  pairAttack,
  codeAttack,
  autodanAttack,
  helpfulnessAttack,
  completionAttack,
  jailbreakChatAttack,
  selfCipherAttack,
];

export function attackFactories(): readonly AttackFactory[] {
  return FACTORIES;
}

export function attackFactory(name: string, path = 'attack'): AttackFactory {
  const f = FACTORIES.find((x) => x.name === name);
  if (!f) {
    throw new InputError(`unknown attack '${name}'; available: ${FACTORIES.map((x) => x.name).join(', ')}`, {
      field: path,
    });
  }
  return f;
}

/** A config entry: `name` or `{name: options}`. */
export type AttackSpec = string | Record<string, unknown>;

export function createAttacks(spec: AttackSpec, env: AttackEnv, path: string): Attack[] {
  if (typeof spec === 'string') return attackFactory(spec, path).create(undefined, env, path);
  const keys = Object.keys(spec);
  if (keys.length !== 1) {
    throw new InputError('an attack entry is a name or a one-key map {name: options}', { field: path });
  }
  const name = keys[0] as string;
  return attackFactory(name, path).create(spec[name], env, `${path}.${name}`);
}
