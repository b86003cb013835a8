import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from './session.js';

/**
 * The data files that snapshot `snapshotId` itself added: the entries with status ADDED of the
 * data manifests its manifest list says it added. Three small reads (the manifest list, the
 * snapshot's own manifests), whatever the table's history.
 */
export async function addedDataFiles(connection: DuckDBConnection, manifestList: string, snapshotId: string): Promise<string[]> {
  const manifests = await connection.runAndReadAll(
    `SELECT manifest_path FROM read_avro(${sqlString(manifestList)}) WHERE added_snapshot_id = ${BigInt(snapshotId)} AND content = 0`,
  );
  const files: string[] = [];
  for (const [path] of manifests.getRows()) {
    const entries = await connection.runAndReadAll(`SELECT data_file.file_path FROM read_avro(${sqlString(String(path))}) WHERE status = 1`);
    for (const [file] of entries.getRows()) files.push(String(file));
  }
  return files;
}
