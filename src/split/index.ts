export { split, type SplitOptions, type SplitResult, type Manifest, type ManifestPart, type PartInfo, type TensorInfo, type Objective } from './split.js';
export { PartChain, runParts } from './compose.js';
export { PipelineSession, type PipelineOptions, type LinkSpec } from './pipeline.js';
export { SplitError, PipelineError, WorkerCrashError } from './errors.js';
export { writeSplit } from './io.js';
export { nodeMacs } from './cost.js';
export { profileNodes, measuredSplit, type MeasuredSplit } from './profile.js';
