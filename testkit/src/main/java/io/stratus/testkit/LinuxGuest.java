package io.stratus.testkit;

import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Stratus test Linux guest: a bootable raw disk (MBR, syslinux, Debian cloud kernel,
 * busybox userland, qemu-guest-agent, ext4 root) built by {@value #SCRIPT} from Debian
 * packages and cached below {@link Libvirt#scratchParent()} ({@code linux-guest/guest.raw}).
 * Upload it as a raw image and boot servers from it; what the guest does is read from its
 * serial console with {@link GuestConsole}. It reaches its ready line about 5 s after qemu
 * starts under TCG, then writes a known stream of files (see {@code deploy/guest/linux/}).
 *
 * <p>Thread-safe.
 */
public final class LinuxGuest {

    /** Path of the build script relative to the repository root. */
    public static final String SCRIPT = "deploy/scripts/linux-guest.sh";

    /** Guest memory the guest needs, in MiB. */
    public static final int MEMORY_MIB = 256;

    /** Name of the cache directory (below {@link Libvirt#scratchParent()}). */
    static final String CACHE_NAME = "linux-guest";

    private static final Logger LOG = LoggerFactory.getLogger(LinuxGuest.class);
    private static final GuestBuild.Once<Path> IMAGE = new GuestBuild.Once<>(
            () -> GuestBuild.run(SCRIPT, CACHE_NAME, LOG, List.of("LINUX_GUEST_IMAGE")).get("LINUX_GUEST_IMAGE"));

    private LinuxGuest() {
    }

    /**
     * The guest's raw disk image, built once per machine (the first build downloads about
     * 35 MB of Debian packages and takes 15–30 s; later runs about 10 ms) and checked once per
     * JVM; a failure is remembered too.
     *
     * @throws IllegalStateException if the script fails (the message carries its output)
     */
    public static Path image() {
        return IMAGE.get();
    }
}
