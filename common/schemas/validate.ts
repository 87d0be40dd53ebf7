import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import memberReportSchema from './member-report.schema.json' with { type: 'json' };
import switchValueSchema from './switch-value.schema.json' with { type: 'json' };

/**
 * Checks etcd values against the published JSON Schemas, so the tests of every writer and reader hold
 * the code to the document. ajv is a development dependency: nothing at run time imports this module.
 */

export { memberReportSchema, switchValueSchema };

const ajv = new Ajv2020({ allErrors: true, strict: true });
const switchValue = ajv.compile(switchValueSchema);
const memberReport = ajv.compile(memberReportSchema);

export type SchemaCheck = { valid: true } | { valid: false; errors: string[] };

/**
 * The JSON instance a raw switch value stands for: an object when it is one, otherwise the text itself
 * as a string (the plain words are not JSON).
 */
export function switchValueInstance(raw: string): unknown {
  return raw.trim().startsWith('{') ? JSON.parse(raw) : raw;
}

export function checkSwitchValue(raw: string): SchemaCheck {
  return result(switchValue(switchValueInstance(raw)), switchValue.errors);
}

export function checkMemberReport(raw: string): SchemaCheck {
  return result(memberReport(JSON.parse(raw)), memberReport.errors);
}

function result(valid: boolean, errors: ErrorObject[] | null | undefined): SchemaCheck {
  if (valid) return { valid: true };
  return {
    valid: false,
    errors: (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`),
  };
}
