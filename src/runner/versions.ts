import { packageVersion } from '../version.js';
import { packCommits } from '../data/packs.js';

/** What a run records about the software and data it ran with, for reproducibility. */
export function runVersions(datasetSha256: string): Record<string, unknown> {
  return {
    refusenik: packageVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    dataset_sha256: datasetSha256,
    // The upstream commit each data pack is pinned to: templates and rubrics change between commits.
    data_packs: packCommits(),
  };
}
