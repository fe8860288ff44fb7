/**
 * The AWS SDK warns on every start that its releases after January 2027 need Node 22. drbot
 * supports Node 20 today (the container image runs Node 22), so that one notice is dropped;
 * every other warning is printed as usual.
 */
const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : warning.message;
  const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if (
    type === 'NodeVersionSupportWarning' ||
    /NodeVersionSupportWarning/.test(String((warning as Error).name ?? ''))
  )
    return;
  if (/AWS SDK for JavaScript \(v3\)[\s\S]*require node >=22/.test(text)) return;
  emit(warning, ...rest);
}) as typeof process.emitWarning;
