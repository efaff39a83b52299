/**
 * The OpenAI images API beside the worker's gRPC service: {@code POST /v1/images/generations},
 * {@code GET /v1/models} and the images it wrote, over the JDK HTTP server. Every call goes to the
 * worker's generation service in-process, so token auth, admission and batching are the gRPC ones.
 */
package dev.genloom.workers.openai;
