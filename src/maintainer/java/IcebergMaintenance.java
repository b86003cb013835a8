import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.Comparator;
import java.util.TreeMap;
import java.util.function.Predicate;
import org.apache.iceberg.DataFile;
import org.apache.iceberg.DeleteFile;
import org.apache.iceberg.FileFormat;
import org.apache.iceberg.FileScanTask;
import org.apache.iceberg.HasTableOperations;
import org.apache.iceberg.ManifestFile;
import org.apache.iceberg.ManifestFiles;
import org.apache.iceberg.ManifestReader;
import org.apache.iceberg.PartitionField;
import org.apache.iceberg.PartitionKey;
import org.apache.iceberg.Schema;
import org.apache.iceberg.PartitionSpec;
import org.apache.iceberg.OverwriteFiles;
import org.apache.iceberg.RewriteFiles;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.StructLike;
import org.apache.iceberg.Table;
import org.apache.iceberg.TableMetadata;
import org.apache.iceberg.TableProperties;
import org.apache.iceberg.catalog.Namespace;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.data.GenericAppenderFactory;
import org.apache.iceberg.data.InternalRecordWrapper;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.data.parquet.GenericParquetReaders;
import org.apache.iceberg.expressions.Evaluator;
import org.apache.iceberg.expressions.Expression;
import org.apache.iceberg.expressions.Expressions;
import org.apache.iceberg.expressions.StrictMetricsEvaluator;
import org.apache.iceberg.io.CloseableIterable;
import org.apache.iceberg.io.DataWriter;
import org.apache.iceberg.io.FileInfo;
import org.apache.iceberg.io.OutputFileFactory;
import org.apache.iceberg.io.SupportsPrefixOperations;
import org.apache.iceberg.parquet.Parquet;
import org.apache.iceberg.rest.RESTCatalog;
import org.apache.iceberg.types.Conversions;
import org.apache.iceberg.types.Types;

/**
 * The maintainer's table operations, on Apache Iceberg's own Java API: the maintainer process
 * (src/maintainer) keeps this running between runs (so its code stays compiled and loaded) and
 * sends one job per run as a line of JSON on stdin; it reads one line of JSON per task on stdout,
 * then a line {"done":true} (with "error" when the job could not run at all). Every change is a catalog commit with the table's
 * requirements, so a commit racing an appender's is refused and this side retries on the
 * refreshed table (the library's own commit retry); it never overwrites what it did not see.
 *
 * <p>Tasks, in this order: retention (drop a tenant's expired days), compaction
 * (rewrite small data files of a partition into files of about the target size, and regroup
 * the files tenants share of a day that has ended), manifest
 * rewrite, snapshot expiry (and the files only expired snapshots referenced), orphan removal.
 *
 * <p>The process exits when its stdin closes, even mid-job, so it never outlives the maintainer
 * that started it (a maintainer killed with SIGKILL leaves at worst uncommitted files, which are
 * orphans).
 */
public final class IcebergMaintenance {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long DAY_MS = 86_400_000L;
  private static PrintStream out;

  /** Whether a job is being run: stdin closing then means the maintainer is gone mid-run. */
  private static volatile boolean busy;

  public static void main(String[] args) throws Exception {
    out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    System.setOut(System.err); // library output must not mix with the answers
    BlockingQueue<String> jobs = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
        for (String line = in.readLine(); line != null; line = in.readLine()) jobs.put(line);
      } catch (IOException | InterruptedException ignored) {
        // fall through: the parent is gone
      }
      // The maintainer closed the pipe (done, or it died): stop at once, even in the middle of a
      // job; what was committed stays, what was written and not committed is an orphan.
      if (busy) System.err.println("stdin closed during a job: the maintainer is gone; stopping");
      Runtime.getRuntime().halt(busy ? 3 : 0);
    }, "stdin-reader");
    reader.setDaemon(true);
    reader.start();

    while (true) {
      String line = jobs.take();
      busy = true;
      ObjectNode done = JSON.createObjectNode();
      done.put("done", true);
      try {
        JsonNode job = JSON.readTree(line);
        try (RESTCatalog catalog = openCatalog(job)) {
          new IcebergMaintenance(catalog, job).run();
        }
      } catch (Exception e) {
        done.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
        e.printStackTrace(System.err);
      }
      busy = false;
      out.println(done);
    }
  }

  private static RESTCatalog openCatalog(JsonNode job) {
    JsonNode c = job.path("catalog");
    JsonNode s3 = job.path("s3");
    Map<String, String> props = new HashMap<>();
    props.put("uri", c.path("uri").asText());
    props.put("warehouse", c.path("warehouse").asText());
    if (c.hasNonNull("token")) props.put("token", c.path("token").asText());
    props.put("io-impl", "org.apache.iceberg.aws.s3.S3FileIO");
    props.put("s3.endpoint", s3.path("endpoint").asText());
    props.put("s3.access-key-id", s3.path("accessKey").asText());
    props.put("s3.secret-access-key", s3.path("secretKey").asText());
    props.put("s3.path-style-access", String.valueOf(s3.path("pathStyle").asBoolean(true)));
    props.put("client.region", s3.path("region").asText());
    RESTCatalog catalog = new RESTCatalog();
    catalog.initialize("lake", props);
    return catalog;
  }

  private final RESTCatalog catalog;
  private final JsonNode job;
  private final long now;

  private IcebergMaintenance(RESTCatalog catalog, JsonNode job) {
    this.catalog = catalog;
    this.job = job;
    this.now = job.path("now").asLong(System.currentTimeMillis());
  }

  private void run() {
    Namespace ns = Namespace.of(job.path("namespace").asText());
    for (JsonNode task : job.path("tasks")) {
      String kind = task.path("task").asText();
      String tableName = task.path("table").asText();
      ObjectNode result = JSON.createObjectNode();
      result.put("task", kind);
      result.put("table", tableName);
      long started = System.nanoTime();
      try {
        TableIdentifier id = TableIdentifier.of(ns, tableName);
        if (!catalog.tableExists(id)) {
          // Nothing to keep yet (no appender has created it): not a failure.
          result.put("ok", true);
          result.put("skipped", "the table does not exist yet");
          result.put("durationMs", (System.nanoTime() - started) / 1_000_000);
          out.println(result);
          continue;
        }
        Table table = catalog.loadTable(id);
        switch (kind) {
          case "properties" -> properties(table, task, result);
          case "retention" -> retention(table, task, result);
          case "offsets" -> trimOffsets(table, task, result);
          case "digests" -> trimDigests(table, task, result);
          case "compact" -> compact(table, task, result);
          case "manifests" -> manifests(table, task, result);
          case "expire" -> expire(table, task, result);
          case "orphans" -> orphans(table, task, result);
          default -> throw new IllegalArgumentException("unknown task " + kind);
        }
        result.put("ok", true);
      } catch (Exception e) {
        result.put("ok", false);
        result.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
        e.printStackTrace(System.err);
      }
      result.put("durationMs", (System.nanoTime() - started) / 1_000_000);
      out.println(result);
    }
  }

  /**
   * Old metadata files are deleted by the catalog after each commit, keeping the last few; and
   * this library retries a refused commit more often than its default of 4, since an appender
   * committing every second can win the race several times in a row.
   */
  private void properties(Table table, JsonNode task, ObjectNode result) {
    Map<String, String> want = new LinkedHashMap<>();
    want.put(TableProperties.METADATA_DELETE_AFTER_COMMIT_ENABLED, "true");
    want.put(TableProperties.METADATA_PREVIOUS_VERSIONS_MAX, task.path("previousVersionsMax").asText("20"));
    want.put(TableProperties.COMMIT_NUM_RETRIES, task.path("commitRetries").asText("20"));
    var update = table.updateProperties();
    int changed = 0;
    for (var e : want.entrySet()) {
      if (!e.getValue().equals(table.properties().get(e.getKey()))) {
        update.set(e.getKey(), e.getValue());
        changed++;
      }
    }
    if (changed > 0) update.commit();
    result.put("propertiesChanged", changed);
  }

  /**
   * Drops each tenant's days older than its retention. The cut-off is a UTC midnight and the
   * table is partitioned by day, so every file of an expired day is past the cut-off. A file
   * whose rows all match the filter by its column bounds (a file of one tenant) is removed from
   * the table without being read; a file that tenants share
   * (see the appender's tenant_shard) is rewritten without the expired tenant's rows. One
   * overwrite commit per filter, validated from the snapshot the files were planned at: a file it
   * deletes that a concurrent compaction replaced, a data file added since that the filter
   * matches (a compaction's output), or a delete file added against one of its files makes the
   * commit fail rather than resurrect or double rows; the next run plans again. The files
   * themselves go when the snapshots that still name them expire.
   */
  private void retention(Table table, JsonNode task, ObjectNode result) throws IOException {
    String tenantColumn = task.path("tenantColumn").asText("tenant_id");
    String timeColumn = task.path("timeColumn").asText("timestamp");
    List<Expression> filters = new ArrayList<>();
    Map<String, Integer> overrides = new LinkedHashMap<>();
    task.path("tenants").fields().forEachRemaining(e -> overrides.put(e.getKey(), e.getValue().isNull() ? null : e.getValue().asInt()));
    JsonNode def = task.path("defaultDays");
    if (!def.isMissingNode() && !def.isNull()) {
      Expression older = Expressions.lessThan(timeColumn, cutoffMicros(def.asInt()));
      filters.add(overrides.isEmpty() ? older : Expressions.and(older, Expressions.notIn(tenantColumn, overrides.keySet().toArray())));
    }
    for (var e : overrides.entrySet()) {
      if (e.getValue() == null) continue; // kept forever
      filters.add(Expressions.and(Expressions.equal(tenantColumn, e.getKey()), Expressions.lessThan(timeColumn, cutoffMicros(e.getValue()))));
    }
    long files = 0, bytes = 0, records = 0, rewritten = 0;
    for (Expression filter : filters) {
      Snapshot start = table.currentSnapshot();
      if (start == null) break;
      StrictMetricsEvaluator allExpire = new StrictMetricsEvaluator(table.schema(), filter);
      List<DataFile> whole = new ArrayList<>();
      List<DataFile> shared = new ArrayList<>();
      try (CloseableIterable<FileScanTask> tasks = table.newScan().useSnapshot(start.snapshotId()).filter(filter).includeColumnStats().planFiles()) {
        for (FileScanTask t : tasks) {
          DataFile f = t.file().copy();
          if (allExpire.eval(f)) {
            whole.add(f);
          } else if (!t.deletes().isEmpty()) {
            throw new IllegalStateException("retention: " + f.location() + " has row deletes and only some of its rows expire; not rewriting it");
          } else {
            shared.add(f);
          }
        }
      }
      if (whole.isEmpty() && shared.isEmpty()) continue;
      // Without the two validations an overwrite quietly skips a file a concurrent compaction
      // already replaced, and adds the file's kept rows beside the compaction's copy of them.
      OverwriteFiles overwrite = table.newOverwrite()
          .validateFromSnapshot(start.snapshotId())
          .conflictDetectionFilter(filter)
          .validateNoConflictingData()
          .validateNoConflictingDeletes();
      for (DataFile f : whole) {
        overwrite.deleteFile(f);
        files++;
        bytes += f.fileSizeInBytes();
        records += f.recordCount();
      }
      Evaluator expired = new Evaluator(table.schema().asStruct(), filter);
      InternalRecordWrapper internal = new InternalRecordWrapper(table.schema().asStruct());
      for (DataFile f : shared) {
        List<DataFile> kept = rewrite(table, List.of(f), Long.MAX_VALUE, row -> !expired.eval(internal.wrap(row)));
        long keptRows = kept.stream().mapToLong(DataFile::recordCount).sum();
        if (keptRows == f.recordCount()) continue; // no row of it expires after all
        overwrite.deleteFile(f);
        kept.forEach(overwrite::addFile);
        rewritten++;
        records += f.recordCount() - keptRows;
      }
      overwrite.commit();
    }
    result.put("filesDropped", files);
    result.put("bytesDropped", bytes);
    result.put("recordsDropped", records);
    result.put("filesRewritten", rewritten);
  }

  /**
   * Keeps the appender's offsets table as small as what it says. The appender reads
   * max(next_offset) per consumer group, topic and partition, and looks a recent batch id up
   * after a commit whose answer it lost; every other row is history that each read of the table
   * would scan again, growing with every commit. This keeps, per group, topic and partition, the
   * rows with the highest next_offset, and every row committed within `keepMs`; the rest are
   * dropped in one overwrite of the files of the snapshot it read, validated like retention's,
   * so rows an appender commits meanwhile (in files of their own) stay.
   */
  private void trimOffsets(Table table, JsonNode task, ObjectNode result) throws IOException {
    long dropped = 0;
    Snapshot start = table.currentSnapshot();
    List<DataFile> files = new ArrayList<>();
    if (start != null) {
      try (CloseableIterable<FileScanTask> tasks = table.newScan().useSnapshot(start.snapshotId()).planFiles()) {
        for (FileScanTask t : tasks) {
          if (!t.deletes().isEmpty()) throw new IllegalStateException("offsets: " + t.file().location() + " has row deletes; not trimming");
          files.add(t.file().copy());
        }
      }
    }
    long keepAfterMicros = (now - task.path("keepMs").asLong()) * 1000L;
    Predicate<Record> recent = row -> {
      OffsetDateTime at = (OffsetDateTime) row.getField("committed_at");
      return at == null || ChronoUnit.MICROS.between(OffsetDateTime.ofInstant(Instant.EPOCH, ZoneOffset.UTC), at) >= keepAfterMicros;
    };
    // One pass: per key the highest next_offset, its rows and how many of them are recent, so
    // the rows kept are counted without reading the files again.
    Map<List<Object>, long[]> highest = new HashMap<>(); // {next_offset, rows at it, recent rows at it}
    long total = 0, recentRows = 0;
    for (DataFile f : files) {
      try (CloseableIterable<Record> rows = readRows(table, f)) {
        for (Record row : rows) {
          total++;
          boolean isRecent = recent.test(row);
          if (isRecent) recentRows++;
          Long next = (Long) row.getField("next_offset");
          if (next == null) continue;
          long[] h = highest.computeIfAbsent(offsetKey(row), k -> new long[] {Long.MIN_VALUE, 0, 0});
          if (next > h[0]) {
            h[0] = next;
            h[1] = 0;
            h[2] = 0;
          }
          if (next == h[0]) {
            h[1]++;
            if (isRecent) h[2]++;
          }
        }
      }
    }
    long kept = recentRows;
    for (long[] h : highest.values()) kept += h[1] - h[2];
    Predicate<Record> keep = row -> {
      Long next = (Long) row.getField("next_offset");
      long[] h = next == null ? null : highest.get(offsetKey(row));
      return h != null && next == h[0] || recent.test(row);
    };
    // Nothing to drop: no commit.
    if (kept < total) {
      List<DataFile> written = rewrite(table, files, Long.MAX_VALUE, keep);
      long writtenRows = written.stream().mapToLong(DataFile::recordCount).sum();
      if (writtenRows != kept) throw new IllegalStateException("offsets: kept " + kept + " rows but wrote " + writtenRows + ": not committing");
      OverwriteFiles overwrite = table.newOverwrite().validateFromSnapshot(start.snapshotId()).validateNoConflictingDeletes();
      files.forEach(overwrite::deleteFile);
      written.forEach(overwrite::addFile);
      overwrite.commit();
      dropped = total - kept;
    }
    result.put("offsetRowsRead", total);
    result.put("offsetRowsDropped", dropped);
  }

  /**
   * Keeps the appender's digests table to its window: each commit adds a small file of the
   * digests of the records it stored, and each commit reads every file within the window. This
   * drops the rows received more than `keepMs` ago and writes the others into one file, in one
   * overwrite of the files of the snapshot it read, validated like the offsets table's, so the
   * files an appender commits meanwhile stay. A table of one file that is all recent is left
   * alone. A run reads at most the window's digests plus those committed since the last run.
   */
  private void trimDigests(Table table, JsonNode task, ObjectNode result) throws IOException {
    Snapshot start = table.currentSnapshot();
    long total = 0, kept = 0;
    List<DataFile> files = new ArrayList<>();
    if (start != null) {
      try (CloseableIterable<FileScanTask> tasks = table.newScan().useSnapshot(start.snapshotId()).includeColumnStats().planFiles()) {
        for (FileScanTask t : tasks) {
          if (!t.deletes().isEmpty()) throw new IllegalStateException("digests: " + t.file().location() + " has row deletes; not trimming");
          files.add(t.file().copy());
        }
      }
    }
    long keepAfterMicros = (now - task.path("keepMs").asLong()) * 1000L;
    StrictMetricsEvaluator allRecent = new StrictMetricsEvaluator(table.schema(), Expressions.greaterThanOrEqual("received_at", keepAfterMicros));
    boolean settled = files.isEmpty() || files.size() == 1 && allRecent.eval(files.get(0));
    if (!settled) {
      Predicate<Record> recent = row -> {
        OffsetDateTime at = (OffsetDateTime) row.getField("received_at");
        return at == null || ChronoUnit.MICROS.between(OffsetDateTime.ofInstant(Instant.EPOCH, ZoneOffset.UTC), at) >= keepAfterMicros;
      };
      total = files.stream().mapToLong(DataFile::recordCount).sum();
      List<DataFile> written = rewrite(table, files, Long.MAX_VALUE, recent);
      kept = written.stream().mapToLong(DataFile::recordCount).sum();
      OverwriteFiles overwrite = table.newOverwrite().validateFromSnapshot(start.snapshotId()).validateNoConflictingDeletes();
      files.forEach(overwrite::deleteFile);
      written.forEach(overwrite::addFile);
      overwrite.commit();
    }
    result.put("filesRewritten", settled ? 0 : files.size());
    result.put("digestRowsRead", total);
    result.put("digestRowsDropped", total - kept);
  }

  private static List<Object> offsetKey(Record row) {
    return Arrays.asList(row.getField("consumer_group"), row.getField("topic"), row.getField("partition"));
  }

  private static CloseableIterable<Record> readRows(Table table, DataFile f) {
    return Parquet.read(table.io().newInputFile(f.location()))
        .project(table.schema())
        .createReaderFunc(fileSchema -> GenericParquetReaders.buildReader(table.schema(), fileSchema))
        .build();
  }

  private long cutoffMicros(int days) {
    long today = Math.floorDiv(now, DAY_MS);
    return (today - days + 1) * DAY_MS * 1000L;
  }

  /**
   * Rewrites the small data files of each partition into files of about the target size. A
   * partition whose day has ended is merged whole as soon as it has two small files. An open one
   * (today, or a table without a day partition) keeps receiving commits, so merging it whole at
   * every run would rewrite the day's data again and again; its small files are merged by size
   * tier instead (under a hundredth of the target, under a tenth, under three quarters), a tier
   * once it has `minFiles` files, so a byte is rewritten about three times before its day ends
   * and a run's work does not grow with the partition. Commits go in groups of partitions; each
   * commit validates from the snapshot the files were read at, so it fails rather than drop a
   * concurrent change.
   */
  private void compact(Table table, JsonNode task, ObjectNode result) throws IOException {
    Snapshot start = table.currentSnapshot();
    if (start == null) return;
    long target = task.path("targetBytes").asLong(128L * 1024 * 1024);
    long small = target * 3 / 4;
    int minFiles = task.path("minFiles").asInt(10);
    int groupsPerCommit = task.path("partitionsPerCommit").asInt(16);
    long today = Math.floorDiv(now, DAY_MS);

    Map<String, List<DataFile>> groups = new LinkedHashMap<>();
    Map<String, Boolean> closed = new HashMap<>();
    Shards shards = Shards.of(table, task.path("shards"));
    // the files that tenants share, of each day that has ended: regrouped whole (Shards.regroup)
    Map<String, List<DataFile>> sharedDays = new LinkedHashMap<>();
    try (CloseableIterable<FileScanTask> tasks = table.newScan().useSnapshot(start.snapshotId()).ignoreResiduals().includeColumnStats().planFiles()) {
      for (FileScanTask t : tasks) {
        if (!t.deletes().isEmpty()) continue; // never rewrite a file with row deletes against it
        DataFile f = t.file();
        long size = f.fileSizeInBytes();
        PartitionSpec spec = table.specs().get(f.specId());
        boolean isClosed = isClosed(spec, f.partition(), today);
        if (isClosed && shards != null && shards.isShared(spec, f.partition())) {
          sharedDays.computeIfAbsent(f.specId() + "/" + dayOf(spec, f.partition()), k -> new ArrayList<>()).add(f.copy());
          continue;
        }
        if (size >= small) continue;
        int tier = isClosed ? 0 : size < target / 100 ? 0 : size < target / 10 ? 1 : 2;
        String key = f.specId() + "/" + spec.partitionToPath(f.partition()) + "#" + tier;
        groups.computeIfAbsent(key, k -> new ArrayList<>()).add(f.copy());
        closed.putIfAbsent(key, isClosed);
      }
    }
    long filesIn = 0, bytesIn = 0, filesOut = 0, bytesOut = 0, commits = 0, merged = 0;
    List<DataFile> del = new ArrayList<>();
    List<DataFile> add = new ArrayList<>();
    int pending = 0;
    for (var e : groups.entrySet()) {
      List<DataFile> files = e.getValue();
      if (files.size() < (closed.get(e.getKey()) ? 2 : minFiles)) continue;
      List<DataFile> written = rewrite(table, files, target);
      del.addAll(files);
      add.addAll(written);
      merged++;
      for (DataFile f : files) { filesIn++; bytesIn += f.fileSizeInBytes(); }
      for (DataFile f : written) { filesOut++; bytesOut += f.fileSizeInBytes(); }
      if (++pending >= groupsPerCommit) {
        commitRewrite(table, start.snapshotId(), del, add);
        commits++;
        pending = 0;
        del.clear();
        add.clear();
      }
    }
    if (pending > 0) {
      commitRewrite(table, start.snapshotId(), del, add);
      commits++;
    }
    long daysRegrouped = 0;
    for (List<DataFile> day : sharedDays.values()) {
      boolean regrouped = false;
      for (List<DataFile> files : shards.overlapping(day)) {
        List<DataFile> written = shards.regroup(table, files);
        commitRewrite(table, start.snapshotId(), files, written);
        commits++;
        regrouped = true;
        for (DataFile f : files) { filesIn++; bytesIn += f.fileSizeInBytes(); }
        for (DataFile f : written) { filesOut++; bytesOut += f.fileSizeInBytes(); }
      }
      if (regrouped) daysRegrouped++;
    }
    result.put("sharedDaysRegrouped", daysRegrouped);
    result.put("groupsCompacted", merged);
    result.put("filesRewritten", filesIn);
    result.put("bytesRewritten", bytesIn);
    result.put("filesWritten", filesOut);
    result.put("bytesWritten", bytesOut);
    result.put("commits", commits);
  }

  /** The partition's day (days since 1970-01-01), or null without a day field. */
  private static Integer dayOf(PartitionSpec spec, StructLike partition) {
    List<PartitionField> fields = spec.fields();
    for (int i = 0; i < fields.size(); i++) {
      if ("day".equals(fields.get(i).transform().toString())) return partition.get(i, Integer.class);
    }
    return null;
  }

  /**
   * The files that tenants share (the appender's tenant_shard, src/schema/tables.ts): a tenant
   * with few rows in a commit has them in a file of a range of tenants, named by `~` and the
   * range's first tenant. Each commit cuts its own ranges, so over a day they drift, and merging
   * a partition's files (as compaction does for the others) would make files whose tenant_id
   * bounds span more and more tenants, which a tenant's query then has to read. Once a day has
   * ended, its shared files are regrouped instead: the rows are counted per tenant (reading the
   * tenant_id column only), cut into contiguous ranges of at most `maxRows` rows, and each range
   * is written as one file sorted by tenant and time, in small row groups, under the partition of
   * its first tenant. A tenant's query on that day then reads one file, and within it the row
   * groups that hold its rows. Only files whose ranges overlap are regrouped (see overlapping),
   * so a day whose shared files no longer overlap is left alone.
   */
  private static final class Shards {
    final String shardColumn, tenantColumn, timeColumn, prefix;
    final int tenantId;
    final long maxRows, rowGroupBytes;

    private Shards(Table table, JsonNode cfg) {
      shardColumn = cfg.path("column").asText();
      tenantColumn = cfg.path("tenantColumn").asText();
      timeColumn = cfg.path("timeColumn").asText();
      prefix = cfg.path("sharedPrefix").asText();
      maxRows = cfg.path("maxRows").asLong(20_000);
      rowGroupBytes = cfg.path("rowGroupBytes").asLong(1024 * 1024);
      tenantId = table.schema().findField(tenantColumn).fieldId();
    }

    /** The table's shards, or null when the task names none or the table lacks the columns. */
    static Shards of(Table table, JsonNode cfg) {
      if (cfg.isMissingNode() || cfg.isNull()) return null;
      Schema schema = table.schema();
      if (schema.findField(cfg.path("column").asText()) == null || schema.findField(cfg.path("tenantColumn").asText()) == null) return null;
      return new Shards(table, cfg);
    }

    boolean isShared(PartitionSpec spec, StructLike partition) {
      List<PartitionField> fields = spec.fields();
      for (int i = 0; i < fields.size(); i++) {
        PartitionField pf = fields.get(i);
        if (pf.transform().isIdentity() && shardColumn.equals(spec.schema().findColumnName(pf.sourceId()))) {
          Object v = partition.get(i, Object.class);
          return v != null && v.toString().startsWith(prefix);
        }
      }
      return false;
    }

    private String bound(DataFile f, boolean lower) {
      var m = lower ? f.lowerBounds() : f.upperBounds();
      ByteBuffer b = m == null ? null : m.get(tenantId);
      return b == null ? null : Conversions.<CharSequence>fromByteBuffer(Types.StringType.get(), b).toString();
    }

    /**
     * The groups of files whose tenant_id ranges overlap, transitively (missing bounds overlap
     * everything), that hold two files or more: each is regrouped on its own, so rows that arrive
     * for a day after it was regrouped make only the ranges they touch be written again.
     */
    List<List<DataFile>> overlapping(List<DataFile> files) {
      if (files.size() < 2) return List.of();
      for (DataFile f : files) if (bound(f, true) == null || bound(f, false) == null) return List.of(files);
      List<DataFile> sorted = new ArrayList<>(files);
      sorted.sort(Comparator.comparing((DataFile f) -> bound(f, true)));
      List<List<DataFile>> groups = new ArrayList<>();
      List<DataFile> current = new ArrayList<>();
      String reach = null;
      for (DataFile f : sorted) {
        if (!current.isEmpty() && bound(f, true).compareTo(reach) > 0) {
          if (current.size() > 1) groups.add(current);
          current = new ArrayList<>();
          reach = null;
        }
        current.add(f);
        String hi = bound(f, false);
        if (reach == null || hi.compareTo(reach) > 0) reach = hi;
      }
      if (current.size() > 1) groups.add(current);
      return groups;
    }

    List<DataFile> regroup(Table table, List<DataFile> files) throws IOException {
      Schema schema = table.schema();
      // rows per tenant, from the tenant_id column alone
      TreeMap<String, Long> perTenant = new TreeMap<>();
      Schema idOnly = schema.select(tenantColumn);
      for (DataFile f : files) {
        try (CloseableIterable<Record> rows = Parquet.read(table.io().newInputFile(f.location())).project(idOnly)
            .createReaderFunc(fileSchema -> GenericParquetReaders.buildReader(idOnly, fileSchema)).build()) {
          for (Record r : rows) perTenant.merge(String.valueOf(r.getField(tenantColumn)), 1L, Long::sum);
        }
      }
      // contiguous ranges of at most maxRows rows (a tenant with more is a range of its own)
      List<String[]> ranges = new ArrayList<>();
      String first = null, last = null;
      long n = 0;
      for (var e : perTenant.entrySet()) {
        if (first != null && n + e.getValue() > maxRows) {
          ranges.add(new String[] {first, last});
          first = null;
          n = 0;
        }
        if (first == null) first = e.getKey();
        last = e.getKey();
        n += e.getValue();
      }
      if (first != null) ranges.add(new String[] {first, last});

      PartitionSpec spec = table.spec();
      GenericAppenderFactory factory = new GenericAppenderFactory(schema, spec);
      factory.setAll(table.properties());
      factory.set(TableProperties.PARQUET_ROW_GROUP_SIZE_BYTES, String.valueOf(rowGroupBytes));
      OutputFileFactory names = OutputFileFactory.builderFor(table, 1, System.nanoTime() & 0x7fffffffL)
          .format(FileFormat.PARQUET).operationId("regroup-" + UUID.randomUUID()).build();
      InternalRecordWrapper internal = new InternalRecordWrapper(schema.asStruct());
      Comparator<Record> order = Comparator.comparing((Record r) -> String.valueOf(r.getField(tenantColumn)))
          .thenComparing(r -> (OffsetDateTime) r.getField(timeColumn), Comparator.nullsFirst(Comparator.naturalOrder()));
      List<DataFile> written = new ArrayList<>();
      for (String[] range : ranges) {
        String lo = range[0], hi = range[1];
        Expression in = Expressions.and(Expressions.greaterThanOrEqual(tenantColumn, lo), Expressions.lessThanOrEqual(tenantColumn, hi));
        List<Record> rows = new ArrayList<>();
        for (DataFile f : files) {
          String flo = bound(f, true), fhi = bound(f, false);
          if (flo != null && fhi != null && (fhi.compareTo(lo) < 0 || flo.compareTo(hi) > 0)) continue;
          try (CloseableIterable<Record> read = Parquet.read(table.io().newInputFile(f.location())).project(schema).filter(in)
              .createReaderFunc(fileSchema -> GenericParquetReaders.buildReader(schema, fileSchema)).build()) {
            for (Record r : read) {
              String t = String.valueOf(r.getField(tenantColumn));
              if (t.compareTo(lo) < 0 || t.compareTo(hi) > 0) continue;
              Record copy = r.copy();
              copy.setField(shardColumn, prefix + lo);
              rows.add(copy);
            }
          }
        }
        if (rows.isEmpty()) continue;
        rows.sort(order);
        PartitionKey key = new PartitionKey(spec, schema);
        key.partition(internal.wrap(rows.get(0)));
        DataWriter<Record> writer = factory.newDataWriter(names.newOutputFile(spec, key), FileFormat.PARQUET, key);
        try {
          for (Record r : rows) writer.write(r);
        } finally {
          writer.close();
        }
        written.add(writer.toDataFile());
      }
      long in = files.stream().mapToLong(DataFile::recordCount).sum();
      long out = written.stream().mapToLong(DataFile::recordCount).sum();
      if (in != out) throw new IllegalStateException("regrouped " + in + " rows into " + out + ": not committing");
      return written;
    }
  }

  private static boolean isClosed(PartitionSpec spec, StructLike partition, long today) {
    List<PartitionField> fields = spec.fields();
    for (int i = 0; i < fields.size(); i++) {
      if ("day".equals(fields.get(i).transform().toString())) {
        Integer day = partition.get(i, Integer.class);
        return day != null && day < today;
      }
    }
    return false;
  }

  private static void commitRewrite(Table table, long startId, List<DataFile> del, List<DataFile> add) {
    RewriteFiles rewrite = table.newRewrite().validateFromSnapshot(startId);
    for (DataFile f : del) rewrite.deleteFile(f);
    for (DataFile f : add) rewrite.addFile(f);
    rewrite.commit();
  }

  /** Reads the files' rows in order and writes them into new files, rolling at the target size. */
  private static List<DataFile> rewrite(Table table, List<DataFile> files, long target) throws IOException {
    List<DataFile> written = rewrite(table, files, target, row -> true);
    long in = files.stream().mapToLong(DataFile::recordCount).sum();
    long outRows = written.stream().mapToLong(DataFile::recordCount).sum();
    if (in != outRows) throw new IllegalStateException("rewrote " + in + " rows into " + outRows + ": not committing");
    return written;
  }

  /**
   * Reads the files' rows in order and writes those `keep` accepts into new files of the first
   * file's spec and partition, rolling at the target size.
   */
  private static List<DataFile> rewrite(Table table, List<DataFile> files, long target, Predicate<Record> keep) throws IOException {
    PartitionSpec spec = table.specs().get(files.get(0).specId());
    StructLike partition = files.get(0).partition();
    GenericAppenderFactory factory = new GenericAppenderFactory(table.schema(), spec);
    factory.setAll(table.properties());
    OutputFileFactory names = OutputFileFactory.builderFor(table, 1, System.nanoTime() & 0x7fffffffL)
        .format(FileFormat.PARQUET).operationId("compact-" + UUID.randomUUID()).build();
    List<DataFile> written = new ArrayList<>();
    DataWriter<Record> writer = null;
    try {
      for (DataFile f : files) {
        try (CloseableIterable<Record> rows = Parquet.read(table.io().newInputFile(f.location()))
            .project(table.schema())
            .createReaderFunc(fileSchema -> GenericParquetReaders.buildReader(table.schema(), fileSchema))
            .build()) {
          for (Record row : rows) {
            if (!keep.test(row)) continue;
            if (writer == null) {
              // An unpartitioned table's files go straight under data/ (a partition path of "" would make "data//").
              writer = spec.isUnpartitioned()
                  ? factory.newDataWriter(names.newOutputFile(), FileFormat.PARQUET, null)
                  : factory.newDataWriter(names.newOutputFile(spec, partition), FileFormat.PARQUET, partition);
            }
            writer.write(row);
            if (writer.length() >= target) {
              writer.close();
              written.add(writer.toDataFile());
              writer = null;
            }
          }
        }
      }
      if (writer != null) {
        writer.close();
        written.add(writer.toDataFile());
        writer = null;
      }
    } finally {
      if (writer != null) writer.close();
    }
    return written;
  }

  /**
   * Merges the current snapshot's small manifests, when there are more than `maxManifests`, into
   * manifests of the target size: one, until the table outgrows it.
   */
  private void manifests(Table table, JsonNode task, ObjectNode result) {
    Snapshot current = table.currentSnapshot();
    if (current == null) return;
    int max = task.path("maxManifests").asInt(8);
    long targetBytes = Long.parseLong(table.properties().getOrDefault(TableProperties.MANIFEST_TARGET_SIZE_BYTES,
        String.valueOf(TableProperties.MANIFEST_TARGET_SIZE_BYTES_DEFAULT)));
    List<ManifestFile> all = current.allManifests(table.io());
    long smallCount = all.stream().filter(m -> m.length() < targetBytes * 3 / 4).count();
    result.put("manifestsBefore", all.size());
    if (smallCount <= max) {
      result.put("manifestsAfter", all.size());
      return;
    }
    table.rewriteManifests()
        .rewriteIf(m -> m.length() < targetBytes * 3 / 4)
        .clusterBy(f -> "all")
        .commit();
    table.refresh();
    result.put("manifestsAfter", table.currentSnapshot().allManifests(table.io()).size());
  }

  /** Expires snapshots older than the max age beyond the newest `keepLast`, and their files. */
  private void expire(Table table, JsonNode task, ObjectNode result) {
    int before = size(table.snapshots());
    int keepLast = task.path("keepLast").asInt(20);
    long maxAgeMs = task.path("maxAgeMs").asLong(3_600_000L);
    if (before <= keepLast) {
      result.put("snapshotsExpired", 0);
      result.put("filesDeleted", 0);
      return;
    }
    AtomicLong deleted = new AtomicLong();
    // The files go one request each (deleteWith, to count them), so several at once.
    ExecutorService deleters = Executors.newFixedThreadPool(8);
    try {
      table.expireSnapshots()
          .expireOlderThan(now - maxAgeMs)
          .retainLast(keepLast)
          .executeDeleteWith(deleters)
          .deleteWith(path -> {
            table.io().deleteFile(path);
            deleted.incrementAndGet();
          })
          .commit();
    } finally {
      deleters.shutdown();
    }
    table.refresh();
    result.put("snapshotsExpired", before - size(table.snapshots()));
    result.put("filesDeleted", deleted.get());
    result.put("snapshots", size(table.snapshots()));
  }

  /**
   * Deletes files under the table's location that no snapshot, manifest or metadata file names
   * and that are older than the minimum age. The table is loaded before the listing, so a file
   * of a commit made since is either named by what was loaded or younger than the minimum age
   * (which must be longer than any commit takes).
   */
  private void orphans(Table table, JsonNode task, ObjectNode result) {
    long minAgeMs = task.path("minAgeMs").asLong(DAY_MS);
    table.refresh();
    TableMetadata meta = ((HasTableOperations) table).operations().current();
    Set<String> referenced = new HashSet<>();
    if (meta.metadataFileLocation() != null) referenced.add(normalize(meta.metadataFileLocation()));
    meta.previousFiles().forEach(e -> referenced.add(normalize(e.file())));
    meta.statisticsFiles().forEach(s -> referenced.add(normalize(s.path())));
    meta.partitionStatisticsFiles().forEach(s -> referenced.add(normalize(s.path())));
    Set<String> manifestsSeen = new HashSet<>();
    for (Snapshot s : table.snapshots()) {
      if (s.manifestListLocation() != null) referenced.add(normalize(s.manifestListLocation()));
      for (ManifestFile m : s.allManifests(table.io())) {
        if (!manifestsSeen.add(m.path())) continue;
        referenced.add(normalize(m.path()));
        try {
          if (m.content() == org.apache.iceberg.ManifestContent.DATA) {
            try (ManifestReader<DataFile> r = ManifestFiles.read(m, table.io()).select(List.of("file_path"))) {
              for (DataFile f : r) referenced.add(normalize(f.location()));
            }
          } else {
            try (ManifestReader<DeleteFile> r = ManifestFiles.readDeleteManifest(m, table.io(), table.specs()).select(List.of("file_path"))) {
              for (DeleteFile f : r) referenced.add(normalize(f.location()));
            }
          }
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
      }
    }
    long oldest = now - minAgeMs;
    long found = 0, removed = 0, bytes = 0;
    SupportsPrefixOperations io = (SupportsPrefixOperations) table.io();
    String prefix = table.location().endsWith("/") ? table.location() : table.location() + "/";
    for (FileInfo f : io.listPrefix(prefix)) {
      found++;
      if (referenced.contains(normalize(f.location())) || f.createdAtMillis() >= oldest) continue;
      io.deleteFile(f.location());
      removed++;
      bytes += f.size();
    }
    result.put("filesListed", found);
    result.put("filesReferenced", referenced.size());
    result.put("orphansRemoved", removed);
    result.put("orphanBytesRemoved", bytes);
  }

  /** s3a:// and s3n:// name the same objects as s3://. */
  private static String normalize(String location) {
    return location.replaceFirst("^s3[an]://", "s3://");
  }

  private static int size(Iterable<?> it) {
    int n = 0;
    for (Object ignored : it) n++;
    return n;
  }
}
