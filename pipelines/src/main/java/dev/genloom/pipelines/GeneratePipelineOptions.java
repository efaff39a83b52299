package dev.genloom.pipelines;

import org.apache.beam.sdk.options.Default;
import org.apache.beam.sdk.options.Description;
import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.options.Validation;

/** Options of the batch generation pipeline. */
public interface GeneratePipelineOptions extends PipelineOptions {
  @Description("Prompt file or pattern: .txt (one per line), .jsonl or PartiPrompts-style .tsv.")
  @Validation.Required
  String getPrompts();

  void setPrompts(String value);

  @Description("Output directory: media/, manifest.jsonl and dead-letter.jsonl go here.")
  @Validation.Required
  String getOut();

  void setOut(String value);

  @Description("Model for a single-configuration run (ignored when --grid is given).")
  @Default.String("tiny-ldm")
  String getModel();

  void setModel(String value);

  @Description(
      "JSON grid of generator configurations (models x cache policies x steps x samplers).")
  String getGrid();

  void setGrid(String value);

  @Description("Seeds per prompt (0..K-1).")
  @Default.Integer(1)
  int getSeeds();

  void setSeeds(int value);

  @Description("Worker addresses, host:port separated by commas.")
  @Validation.Required
  String getWorkers();

  void setWorkers(String value);

  @Description("Largest number of requests one DoFn instance keeps in flight.")
  @Default.Integer(16)
  int getMaxInFlight();

  void setMaxInFlight(int value);

  @Description("Requests of one configuration grouped together so workers can batch them.")
  @Default.Integer(8)
  int getBatchSize();

  void setBatchSize(int value);

  @Description(
      "How a batch reaches its worker: batch (one GenerateBatch call; a worker without it gets one"
          + " Generate call per item) or item (one Generate call per item).")
  @Default.String("batch")
  String getWorkerCalls();

  void setWorkerCalls(String value);

  @Description("Attempts per request on UNAVAILABLE, RESOURCE_EXHAUSTED or DEADLINE_EXCEEDED.")
  @Default.Integer(8)
  int getMaxAttempts();

  void setMaxAttempts(int value);

  @Description("Deadline of one Generate call, in seconds.")
  @Default.Integer(300)
  int getCallDeadlineSeconds();

  void setCallDeadlineSeconds(int value);

  @Description("First retry backoff in milliseconds (doubles per attempt, with full jitter).")
  @Default.Integer(200)
  int getInitialBackoffMillis();

  void setInitialBackoffMillis(int value);

  @Description(
      "Refuse (dead-letter as failed) prompts longer than the model's text encoder takes, instead"
          + " of truncating them as diffusers does; truncations are counted in manifest.jsonl.")
  @Default.Boolean(false)
  boolean getRefuseLongPrompts();

  void setRefuseLongPrompts(boolean value);

  @Description(
      "Call workers over TLS. With --workerCaCert the server certificate is checked against that"
          + " CA (PEM), else against the JVM's trusted roots.")
  @Default.Boolean(false)
  boolean getWorkerTls();

  void setWorkerTls(boolean value);

  @Description("CA certificate (PEM) that signed the workers' certificates; local path or gs://.")
  String getWorkerCaCert();

  void setWorkerCaCert(String value);

  @Description(
      "Client certificate chain (PEM) for mutual TLS, with --workerClientKey; local path or gs://.")
  String getWorkerClientCert();

  void setWorkerClientCert(String value);

  @Description("Client private key (PKCS#8 PEM) for mutual TLS; local path or gs://.")
  String getWorkerClientKey();

  void setWorkerClientKey(String value);

  @Description(
      "File holding the bearer token workers require (first line); local path or gs://. Sent as"
          + " 'authorization: Bearer ...' on every call.")
  String getWorkerTokenFile();

  void setWorkerTokenFile(String value);

  @Description(
      "Folder of reference images matched by item id: an item with id X and no reference_image"
          + " uses X.png, X.jpg or X.jpeg from here when one exists; local path or gs://.")
  String getReferenceDir();

  void setReferenceDir(String value);
}
