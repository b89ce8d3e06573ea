package io.stratus.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the {@link LinuxGuest} printed on its serial console, split into boots. The lines
 * are those documented in {@code deploy/scripts/linux-guest.sh}; a boot starts at the
 * initramfs's {@code journal:} line.
 */
public final class GuestConsole {
    private static final String JOURNAL = "stratus-initramfs: journal: ";
    private static final Pattern FSCK = Pattern.compile("stratus-initramfs: fsck rc=(\\d+)");
    private static final Pattern READY = Pattern.compile("stratus-guest: ready boot=(\\d+) uptime=([0-9.]+)");
    private static final Pattern COMPLETE = Pattern.compile("stratus-writer: complete (f\\d{4}) ([0-9a-f]{64})");
    private static final Pattern HOOK = Pattern.compile("stratus-qga-hook: (freeze|thaw) uptime=([0-9.]+)");
    private static final Pattern VERIFY = Pattern.compile(
            "stratus-verify: (boot-\\d+) files=(\\d+) ok=(\\d+) bad=(\\d+) manifest-sha256=([0-9a-f]{64})");

    private final List<String> lines;

    private GuestConsole(List<String> lines) {
        this.lines = List.copyOf(lines);
    }

    /** The console as text (CR removed); an empty console when the file does not exist yet. */
    public static GuestConsole parse(String text) {
        return new GuestConsole(List.of(text.replace("\r", "").split("\n", -1)));
    }

    /** Reads {@code log} now. */
    public static GuestConsole read(Path log) throws IOException {
        try {
            return parse(Files.readString(log, StandardCharsets.ISO_8859_1));
        } catch (NoSuchFileException e) {
            return parse("");
        }
    }

    /**
     * Re-reads {@code log} every 200 ms until {@code done} holds, and returns that console.
     *
     * @throws AssertionError naming {@code what}, with the console's last lines, on timeout
     */
    public static GuestConsole await(Path log, Duration timeout, String what, Predicate<GuestConsole> done)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            GuestConsole c = read(log);
            if (done.test(c)) {
                return c;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the guest's console did not show " + what + " within " + timeout
                        + "; its last lines:\n" + c.tail(40));
            }
            Thread.sleep(200);
        }
    }

    /** Every line. */
    public List<String> lines() {
        return lines;
    }

    /** The last {@code n} lines, for messages. */
    public String tail(int n) {
        return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }

    /** The boots in order; lines before the first boot are dropped. */
    public List<Boot> boots() {
        List<Boot> boots = new ArrayList<>();
        int start = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith(JOURNAL)) {
                if (start >= 0) {
                    boots.add(new Boot(lines.subList(start, i)));
                }
                start = i;
            }
        }
        if (start >= 0) {
            boots.add(new Boot(lines.subList(start, lines.size())));
        }
        return boots;
    }

    /** How many boots reached their ready line. */
    public int readyBoots() {
        return (int) boots().stream().filter(b -> b.ready().isPresent()).count();
    }

    /** The last boot, or an empty one. */
    public Boot lastBoot() {
        List<Boot> boots = boots();
        return boots.isEmpty() ? new Boot(List.of()) : boots.get(boots.size() - 1);
    }

    /** One boot's lines, from the initramfs's journal line to the next boot. */
    public static final class Boot {
        private final List<String> lines;

        Boot(List<String> lines) {
            this.lines = List.copyOf(lines);
        }

        /** This boot's lines. */
        public List<String> lines() {
            return lines;
        }

        /** Whether the root file system's journal needed no recovery before anything mounted it. */
        public boolean journalClean() {
            return !lines.isEmpty() && lines.get(0).equals(JOURNAL + "clean");
        }

        /** e2fsck -f -n's exit code after any journal replay, if printed yet. */
        public OptionalInt fsckExitCode() {
            return first(FSCK).map(m -> OptionalInt.of(Integer.parseInt(m.group(1)))).orElse(OptionalInt.empty());
        }

        /** The ready line's boot number, once the guest is ready. */
        public OptionalInt ready() {
            return first(READY).map(m -> OptionalInt.of(Integer.parseInt(m.group(1)))).orElse(OptionalInt.empty());
        }

        /** The guest's uptime in seconds at its ready line, or -1. */
        public double readyUptime() {
            return first(READY).map(m -> Double.parseDouble(m.group(2))).orElse(-1.0);
        }

        /** The writer's complete files in order: name to the sha256 the guest computed. */
        public Map<String, String> completed() {
            return completedBefore(lines.size());
        }

        /** The files the writer reported complete before the first freeze of the guest agent. */
        public Map<String, String> completedBeforeFreeze() {
            int freeze = indexOf(HOOK, "freeze");
            if (freeze < 0) {
                throw new AssertionError("the guest agent's fsfreeze hook never said freeze:\n"
                        + String.join("\n", lines));
            }
            return completedBefore(freeze);
        }

        /** How many files the writer reported complete after the first thaw. */
        public int completedAfterThaw() {
            int thaw = indexOf(HOOK, "thaw");
            return thaw < 0 ? 0 : completed().size() - completedBefore(thaw).size();
        }

        /** The guest's uptime at the hook's freeze and thaw lines: {freeze, thaw}, or empty. */
        public double[] freezeWindow() {
            int f = indexOf(HOOK, "freeze");
            int t = indexOf(HOOK, "thaw");
            if (f < 0 || t < 0) {
                return new double[0];
            }
            return new double[] {uptime(f), uptime(t)};
        }

        /** The verify lines: directory (boot-N) to its result. */
        public Map<String, Verified> verified() {
            Map<String, Verified> out = new LinkedHashMap<>();
            for (String line : lines) {
                Matcher m = VERIFY.matcher(line);
                if (m.matches()) {
                    out.put(m.group(1), new Verified(Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                            Integer.parseInt(m.group(4)), m.group(5)));
                }
            }
            return out;
        }

        /** Whether a line of this boot contains {@code text}. */
        public boolean says(String text) {
            return lines.stream().anyMatch(l -> l.contains(text));
        }

        private Map<String, String> completedBefore(int end) {
            Map<String, String> out = new LinkedHashMap<>();
            for (String line : lines.subList(0, end)) {
                Matcher m = COMPLETE.matcher(line);
                if (m.matches()) {
                    out.put(m.group(1), m.group(2));
                }
            }
            return out;
        }

        private int indexOf(Pattern p, String group1) {
            for (int i = 0; i < lines.size(); i++) {
                Matcher m = p.matcher(lines.get(i));
                if (m.matches() && m.group(1).equals(group1)) {
                    return i;
                }
            }
            return -1;
        }

        private double uptime(int index) {
            Matcher m = HOOK.matcher(lines.get(index));
            return m.matches() ? Double.parseDouble(m.group(2)) : -1;
        }

        private java.util.Optional<Matcher> first(Pattern p) {
            for (String line : lines) {
                Matcher m = p.matcher(line);
                if (m.matches()) {
                    return java.util.Optional.of(m);
                }
            }
            return java.util.Optional.empty();
        }
    }

    /**
     * One {@code stratus-verify} line: the MANIFEST held {@code files} entries, {@code ok} of
     * them matched their file, {@code bad} did not; {@code manifestSha256} is the MANIFEST's.
     */
    public record Verified(int files, int ok, int bad, String manifestSha256) {}

    /**
     * The MANIFEST the writer wrote for the first {@code n} of {@code completed} files, as
     * the guest's {@code sha256sum} formats it ("SHA256  NAME\n" per file).
     */
    public static String manifest(Map<String, String> completed, int n) {
        StringBuilder b = new StringBuilder();
        completed.entrySet().stream().limit(n)
                .forEach(e -> b.append(e.getValue()).append("  ").append(e.getKey()).append('\n'));
        return b.toString();
    }
}
