package dev.genloom.workers;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Bearer-token authentication: calls must carry {@code authorization: Bearer <token>}. A missing or
 * wrong token gets UNAUTHENTICATED; tokens are compared in constant time.
 */
public final class TokenAuthInterceptor implements ServerInterceptor {
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final byte[] expected;

  public TokenAuthInterceptor(String token) {
    if (token == null || token.isBlank()) {
      throw new IllegalArgumentException("auth-token-file: the token is empty");
    }
    this.expected = ("Bearer " + token.strip()).getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String presented = headers.get(AUTHORIZATION);
    byte[] actual = presented == null ? new byte[0] : presented.getBytes(StandardCharsets.UTF_8);
    if (!MessageDigest.isEqual(expected, actual)) {
      call.close(
          Status.UNAUTHENTICATED.withDescription(
              presented == null
                  ? "authorization: a bearer token is required"
                  : "authorization: invalid token"),
          new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return next.startCall(call, headers);
  }
}
