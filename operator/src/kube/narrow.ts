import { createRequire, registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';

let narrowed = false;

/**
 * Keeps client-node's KubeConfig from loading every API group. Its config module imports two names
 * (createConfiguration, ServerConfiguration) from the generated code's index, which also imports every
 * group's client and every model: ~25 MB of source that V8 keeps in the heap, about 20 MiB of the
 * operator's RSS for clients it never calls. This resolve hook gives that one import a module exporting
 * just those two names from their own files; every other import resolves as usual. The KubeConfig is
 * client-node's own, unchanged. Must run before client.ts is loaded (main.ts imports the adapters after
 * it); if client-node ever imports another name there, loading fails at start-up, not later.
 */
export function narrowClientNode(): void {
  if (narrowed) return;
  narrowed = true;
  const configUrl = pathToFileURL(
    createRequire(import.meta.url).resolve('@kubernetes/client-node/dist/config.js'),
  ).href;
  const gen = (file: string): string => JSON.stringify(new URL(`./gen/${file}`, configUrl).href);
  const index =
    `export { createConfiguration } from ${gen('configuration.js')};\n` +
    `export { ServerConfiguration } from ${gen('servers.js')};\n`;
  const indexUrl = `data:text/javascript,${encodeURIComponent(index)}`;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === './gen/index.js' && context.parentURL === configUrl)
        return { url: indexUrl, format: 'module', shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
}
