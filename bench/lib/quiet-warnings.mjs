// Drops the AWS SDK's one "releases after January 2027 need Node 22" notice (as drbot's own
// src/quiet-warnings.ts does); every other warning is printed as usual. Import it first.
const emit = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  const text = typeof warning === 'string' ? warning : warning?.message;
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
  if (type === 'NodeVersionSupportWarning' || warning?.name === 'NodeVersionSupportWarning') return;
  if (/AWS SDK for JavaScript \(v3\)[\s\S]*require node >=22/.test(String(text))) return;
  emit(warning, ...rest);
};
