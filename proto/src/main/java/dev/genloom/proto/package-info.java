/** Hand-written helpers around the generated {@code genloom.v1} contracts (JSON codecs). */
package dev.genloom.proto;
