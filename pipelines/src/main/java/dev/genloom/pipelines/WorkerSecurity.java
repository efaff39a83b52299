package dev.genloom.pipelines;

import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executor;
import org.apache.beam.sdk.io.FileSystems;

/**
 * How the pipeline reaches its workers: plaintext or TLS (optionally mutual), and an optional
 * bearer token. Files are named, not inlined, so secrets never travel in pipeline options; they are
 * read through Beam FileSystems (local paths, or gs:// on Dataflow) when a worker JVM first dials.
 *
 * @param tls whether to use TLS
 * @param caCert CA certificate file, or empty for the JVM's trusted roots
 * @param clientCert client certificate chain for mutual TLS, or empty
 * @param clientKey client private key for mutual TLS, or empty
 * @param tokenFile file whose first line is the bearer token, or empty
 */
public record WorkerSecurity(
    boolean tls, String caCert, String clientCert, String clientKey, String tokenFile)
    implements Serializable {
  public static final WorkerSecurity PLAINTEXT = new WorkerSecurity(false, "", "", "", "");

  public WorkerSecurity {
    caCert = caCert == null ? "" : caCert;
    clientCert = clientCert == null ? "" : clientCert;
    clientKey = clientKey == null ? "" : clientKey;
    tokenFile = tokenFile == null ? "" : tokenFile;
    if (clientCert.isEmpty() != clientKey.isEmpty()) {
      throw new IllegalArgumentException(
          "workerClientCert and workerClientKey: give both for mutual TLS, or neither");
    }
    if (!tls && !(caCert.isEmpty() && clientCert.isEmpty())) {
      throw new IllegalArgumentException(
          "workerCaCert/workerClientCert need --workerTls=true (certificates without TLS)");
    }
  }

  public static WorkerSecurity from(GeneratePipelineOptions options) {
    return new WorkerSecurity(
        options.getWorkerTls(),
        options.getWorkerCaCert(),
        options.getWorkerClientCert(),
        options.getWorkerClientKey(),
        options.getWorkerTokenFile());
  }

  ChannelCredentials channelCredentials() {
    if (!tls) {
      return InsecureChannelCredentials.create();
    }
    TlsChannelCredentials.Builder builder = TlsChannelCredentials.newBuilder();
    try {
      if (!caCert.isEmpty()) {
        builder.trustManager(stream(caCert, "workerCaCert"));
      }
      if (!clientCert.isEmpty()) {
        builder.keyManager(
            stream(clientCert, "workerClientCert"), stream(clientKey, "workerClientKey"));
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("worker TLS: " + e.getMessage(), e);
    }
    return builder.build();
  }

  /** Bearer-token call credentials, or null without a token file. */
  CallCredentials callCredentials() {
    if (tokenFile.isEmpty()) {
      return null;
    }
    String token = new String(read(tokenFile, "workerTokenFile"), StandardCharsets.UTF_8).strip();
    int newline = token.indexOf('\n');
    String value = (newline < 0 ? token : token.substring(0, newline)).strip();
    if (value.isEmpty()) {
      throw new IllegalArgumentException("workerTokenFile: " + tokenFile + " is empty");
    }
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + value);
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(
          RequestInfo requestInfo, Executor appExecutor, MetadataApplier applier) {
        if (!tls
            && !requestInfo.getAuthority().startsWith("127.0.0.1")
            && !requestInfo.getAuthority().startsWith("localhost")) {
          applier.fail(
              Status.UNAUTHENTICATED.withDescription(
                  "refusing to send the worker token in plaintext to "
                      + requestInfo.getAuthority()
                      + "; use --workerTls=true"));
          return;
        }
        applier.apply(headers);
      }
    };
  }

  private static InputStream stream(String spec, String option) {
    return new ByteArrayInputStream(read(spec, option));
  }

  private static byte[] read(String spec, String option) {
    try (InputStream in =
        Channels.newInputStream(
            FileSystems.open(FileSystems.matchSingleFileSpec(spec).resourceId()))) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new IllegalArgumentException(
          option + ": cannot read '" + spec + "': " + e.getMessage(), e);
    }
  }
}
