/** The {@code genloom} command line: one entry point wiring the other modules together. */
package dev.genloom.cli;
