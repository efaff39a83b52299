package dev.genloom.workers.openai;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;
import java.util.Optional;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A server {@link SSLContext} from the PEM files the worker's gRPC TLS takes: a certificate chain,
 * an unencrypted PKCS#8 private key and, for mutual TLS, the CA that signs client certificates.
 */
public final class PemTls {
  /** Protects the in-memory key store only; it is never written anywhere. */
  private static final char[] STORE_PASSWORD = "in-memory".toCharArray();

  private PemTls() {}

  /**
   * @throws IllegalArgumentException naming the option of the file that cannot be used
   */
  public static SSLContext serverContext(Path certChain, Path key, Optional<Path> clientCa) {
    try {
      Certificate[] chain = certificates(certChain, "tls-cert");
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      keys.setKeyEntry(
          "worker", privateKey(key, chain[0].getPublicKey().getAlgorithm()), STORE_PASSWORD, chain);
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, STORE_PASSWORD);
      TrustManagerFactory tmf = null;
      if (clientCa.isPresent()) {
        KeyStore trusted = KeyStore.getInstance("PKCS12");
        trusted.load(null, null);
        Certificate[] cas = certificates(clientCa.get(), "tls-client-ca");
        for (int i = 0; i < cas.length; i++) {
          trusted.setCertificateEntry("ca-" + i, cas[i]);
        }
        tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trusted);
      }
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalArgumentException("tls-cert: cannot set up TLS: " + e.getMessage(), e);
    }
  }

  private static Certificate[] certificates(Path file, String option) {
    try (InputStream in = Files.newInputStream(file)) {
      Collection<? extends Certificate> certs =
          CertificateFactory.getInstance("X.509").generateCertificates(in);
      if (certs.isEmpty()) {
        throw new IllegalArgumentException(option + ": no certificate in " + file);
      }
      return certs.toArray(new Certificate[0]);
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException(
          option + ": cannot read certificates from " + file + " (" + e.getMessage() + ")", e);
    }
  }

  private static PrivateKey privateKey(Path file, String algorithm) {
    String pem;
    try {
      pem = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IllegalArgumentException("tls-key: cannot read " + file, e);
    }
    String begin = "-----BEGIN PRIVATE KEY-----";
    String end = "-----END PRIVATE KEY-----";
    int from = pem.indexOf(begin);
    int to = pem.indexOf(end);
    if (from < 0 || to < from) {
      throw new IllegalArgumentException(
          "tls-key: "
              + file
              + " holds no unencrypted PKCS#8 key (BEGIN PRIVATE KEY); convert it with"
              + " 'openssl pkcs8 -topk8 -nocrypt'");
    }
    try {
      byte[] der = Base64.getMimeDecoder().decode(pem.substring(from + begin.length(), to));
      return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
    } catch (IllegalArgumentException | GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "tls-key: "
              + file
              + " is not a "
              + algorithm
              + " PKCS#8 key matching --tls-cert ("
              + e.getMessage()
              + ")",
          e);
    }
  }
}
