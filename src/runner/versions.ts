import { packageVersion } from '../version.js';

/** What a run records about the software and data it ran with, for reproducibility. */
export function runVersions(datasetSha256: string): Record<string, unknown> {
  return {
    refusenik: packageVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    dataset_sha256: datasetSha256,
  };
}
