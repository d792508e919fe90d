import type { BindingMetadata, FunctionCallback, FunctionMetadata } from './core-api';

/** The trigger types the local host drives. */
export const SUPPORTED_TRIGGERS = ['httpTrigger', 'blobTrigger', 'queueTrigger', 'timerTrigger'] as const;
export type TriggerType = (typeof SUPPORTED_TRIGGERS)[number];

/** A trigger binding with its name (the key of `bindings`). */
export type TriggerBinding = BindingMetadata & { readonly name: string; readonly type: TriggerType };

/** A function as the host runs it: the registration, checked. */
export interface FunctionDefinition {
  readonly name: string;
  /** The id the real host uses in receipts, poison messages and timer status: `Host.Functions.<name>`. */
  readonly id: string;
  readonly trigger: TriggerBinding;
  readonly bindings: Readonly<Record<string, BindingMetadata>>;
  readonly handler: FunctionCallback;
  readonly retryOptions: unknown;
}

const FUNCTION_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,127}$/;

/**
 * Checks a registration and fails with a message that names the function and the binding for anything
 * the local host cannot run faithfully (an unknown trigger, an input binding, an output other than
 * `http` on an HTTP trigger or `queue`).
 */
export function defineFunction(metadata: FunctionMetadata, handler: FunctionCallback): FunctionDefinition {
  const { name, bindings } = metadata;
  if (typeof name !== 'string' || !FUNCTION_NAME.test(name)) {
    throw new Error(`Invalid function name "${String(name)}": use letters, digits, "_" and "-", starting with a letter (at most 128).`);
  }
  if (typeof handler !== 'function') throw new Error(`Function '${name}' has no handler.`);
  if (typeof bindings !== 'object' || bindings === null) throw new Error(`Function '${name}' has no bindings.`);

  const triggers = Object.entries(bindings).filter(([, binding]) => /trigger$/i.test(String(binding.type)));
  if (triggers.length !== 1) {
    throw new Error(`Function '${name}' must have exactly one trigger binding; it has ${triggers.length}.`);
  }
  const [triggerName, triggerBinding] = triggers[0] as [string, BindingMetadata];
  const triggerType = SUPPORTED_TRIGGERS.find((type) => type.toLowerCase() === String(triggerBinding.type).toLowerCase());
  if (!triggerType) {
    throw new Error(
      `Function '${name}' uses a trigger of type '${String(triggerBinding.type)}', which the local host does not support. ` +
        `Supported triggers: ${SUPPORTED_TRIGGERS.join(', ')}.`,
    );
  }

  for (const [bindingName, binding] of Object.entries(bindings)) {
    if (bindingName === triggerName) continue;
    const type = String(binding.type).toLowerCase();
    const supported =
      binding.direction === 'out' && ((type === 'http' && triggerType === 'httpTrigger') || type === 'queue');
    if (!supported) {
      throw new Error(
        `Function '${name}' has ${binding.direction === 'out' ? 'an output' : 'an input'} binding '${bindingName}' of type '${String(binding.type)}', ` +
          `which the local host does not support. Supported: the 'http' output of an HTTP trigger and 'queue' outputs; ` +
          `use the storage SDK from the function for anything else.`,
      );
    }
    if (type === 'queue' && typeof binding.queueName !== 'string') {
      throw new Error(`Function '${name}': queue output '${bindingName}' has no queueName.`);
    }
  }

  const trigger = { ...triggerBinding, name: triggerName, type: triggerType } as TriggerBinding;
  const required = REQUIRED_OPTION[triggerType];
  if (required && (typeof trigger[required] !== 'string' || trigger[required] === '')) {
    throw new Error(`Function '${name}': the ${triggerType} needs a "${required}".`);
  }
  return { name, id: `Host.Functions.${name}`, trigger, bindings, handler, retryOptions: metadata.retryOptions };
}

const REQUIRED_OPTION: Record<TriggerType, string | undefined> = {
  httpTrigger: undefined,
  blobTrigger: 'path',
  queueTrigger: 'queueName',
  timerTrigger: 'schedule',
};

/** Replaces `%SettingName%` in a binding option with the app setting, as the real host does. */
export function resolveAppSettings(text: string, purpose: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(/%([^%]+)%/g, (_, setting: string) => {
    const value = env[setting];
    if (value === undefined || value === '') {
      throw new Error(`${purpose}: "${text}" refers to the app setting "${setting}", which is not set.`);
    }
    return value;
  });
}

type NamedBinding = BindingMetadata & { name: string };

/** What `InvocationContext.options` holds: a function's bindings, which do not change while it is loaded. */
export interface EffectiveOptions {
  trigger: NamedBinding;
  return: NamedBinding | undefined;
  extraInputs: NamedBinding[];
  extraOutputs: NamedBinding[];
}

const optionsOf = new WeakMap<FunctionDefinition, EffectiveOptions>();

/**
 * The shape `InvocationContext.options` has in Azure (`fromRpcBindings` in @azure/functions), worked out
 * once per function: every invocation's context gets it, so it is on every request's path.
 */
export function effectiveOptions(definition: FunctionDefinition): EffectiveOptions {
  let options = optionsOf.get(definition);
  if (!options) optionsOf.set(definition, (options = bindingOptions(definition)));
  return options;
}

function bindingOptions(definition: FunctionDefinition): EffectiveOptions {
  const extraOutputs: NamedBinding[] = [];
  let returnBinding: NamedBinding | undefined;
  for (const [name, binding] of Object.entries(definition.bindings)) {
    if (name === definition.trigger.name) continue;
    if (name === '$return') returnBinding = { ...binding, name };
    else if (binding.direction === 'out') extraOutputs.push({ ...binding, name });
  }
  return { trigger: definition.trigger, return: returnBinding, extraInputs: [], extraOutputs };
}
