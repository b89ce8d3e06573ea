package io.stratus.cli;

import java.io.PrintStream;

/**
 * Where the CLI writes: results to {@code out}, errors and progress to {@code err}.
 *
 * @param errIsTerminal whether {@code err} is a terminal, so progress may redraw one line
 *     with carriage returns instead of printing periodic lines
 */
public record Terminal(PrintStream out, PrintStream err, boolean errIsTerminal) {}
