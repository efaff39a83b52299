/** The gRPC server behind {@code genloom.v1.GenerationService}. */
package dev.genloom.workers;
