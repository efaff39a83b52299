package dev.genloom.workers.openai;

/**
 * A refusal in OpenAI's error-object shape: the HTTP status, {@code type}, {@code param} (the
 * request field at fault, or null) and {@code code}.
 */
final class OpenAiException extends Exception {
  private static final long serialVersionUID = 1L;

  final int status;
  final String type;
  final String param;
  final String code;

  OpenAiException(int status, String type, String param, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }

  /** A 400 naming {@code param}; the message starts with the field's name. */
  static OpenAiException invalid(String param, String code, String message) {
    return new OpenAiException(400, OpenAiErrors.INVALID_REQUEST, param, code, message);
  }
}
