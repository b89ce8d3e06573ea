package io.stratus.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Splitting the Linux guest's console into boots and reading its lines. */
class GuestConsoleTest {
    private static final String A = "a".repeat(64);
    private static final String B = "b".repeat(64);
    private static final String C = "c".repeat(64);

    private static final String TEXT = String.join("\r\n",
            "stratus-initramfs: journal: clean",
            "stratus-initramfs: fsck rc=0",
            "stratus-guest: ready boot=1 uptime=3.09",
            "stratus-writer: complete f0001 " + A,
            "stratus-guest: ACPI power button: powering off",
            "[    7.6] reboot: Power down",
            "stratus-initramfs: journal: needs_recovery",
            "stratus-initramfs: journal replay rc=1",
            "stratus-initramfs: fsck rc=0",
            "stratus-verify: boot-1 files=1 ok=1 bad=0 manifest-sha256=" + C,
            "stratus-guest: ready boot=2 uptime=3.50",
            "stratus-writer: complete f0001 " + A,
            "stratus-qga-hook: freeze uptime=10.00",
            "stratus-writer: complete f0002 " + B,
            "stratus-qga-hook: thaw uptime=10.25",
            "stratus-writer: complete f0003 " + C,
            "");

    @Test
    void splitsIntoBootsAndReadsEachOnesLines() {
        GuestConsole c = GuestConsole.parse(TEXT);
        List<GuestConsole.Boot> boots = c.boots();
        assertEquals(2, boots.size());
        assertEquals(2, c.readyBoots());
        GuestConsole.Boot first = boots.get(0);
        assertTrue(first.journalClean());
        assertEquals(1, first.ready().getAsInt());
        assertEquals(3.09, first.readyUptime());
        assertTrue(first.says("reboot: Power down"));
        assertThrows(AssertionError.class, first::completedBeforeFreeze, "never frozen");

        GuestConsole.Boot second = c.lastBoot();
        assertFalse(second.journalClean());
        assertEquals(0, second.fsckExitCode().getAsInt());
        assertEquals(new GuestConsole.Verified(1, 1, 0, C), second.verified().get("boot-1"));
        assertEquals(List.of("f0001"), List.copyOf(second.completedBeforeFreeze().keySet()));
        assertEquals(1, second.completedAfterThaw());
        assertEquals(3, second.completed().size());
        double[] window = second.freezeWindow();
        assertEquals(0.25, window[1] - window[0], 1e-9);
        assertEquals(A + "  f0001\n" + B + "  f0002\n", GuestConsole.manifest(second.completed(), 2));
    }

    @Test
    void anEmptyConsoleHasNoBoots() {
        GuestConsole c = GuestConsole.parse("");
        assertEquals(0, c.readyBoots());
        assertTrue(c.lastBoot().ready().isEmpty());
        assertTrue(c.lastBoot().fsckExitCode().isEmpty());
    }
}
