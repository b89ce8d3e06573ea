package io.stratus.testkit;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The "qga relay guest": a tiny Linux TCG guest (Debian cloud kernel plus a
 * busybox initramfs, built by {@value #SCRIPT}) whose only job is to copy
 * bytes between the qemu guest-agent port {@value #AGENT_CHANNEL} and a second
 * virtio-serial port {@value #RELAY_CHANNEL}, whose host side qemu connects to
 * a test's {@link QgaStub} unix socket. libvirt then sees a connected guest
 * agent, and {@code virsh domfsfreeze}, {@code virDomainFSFreeze} or a
 * {@code --quiesce} snapshot really reach the stub:
 *
 * <pre>
 * libvirtd -> qemu agent chardev -> guest port org.qemu.guest_agent.0
 *          -> busybox cat -> guest port stub.relay -> qemu -> QgaStub
 * </pre>
 *
 * (No host-side stub alone can do this: libvirt 9.0 only talks to the agent
 * once the guest has opened its port.) The guest needs about 7–8 s under TCG
 * from {@code virsh create} until {@code virsh dumpxml} shows the agent channel
 * {@code state='connected'}; its serial console says {@value #READY_LINE}
 * then. It mounts {@code /dev/vda} on {@code /mnt} if that holds a file system
 * (nothing needs it: the stub answers the freeze).
 *
 * <p>Start the {@link QgaStub} <em>before</em> creating the domain: libvirt
 * refuses to start it while the relay socket does not exist ({@code unable to
 * stat: .../stub.sock}). If the stub goes away later, qemu reconnects to a new
 * one on the same path within a second; requests sent meanwhile are lost.
 *
 * <pre>{@code
 * Libvirt.ensureRunning();
 * Path dir = Libvirt.scratchDir("freeze-test-");
 * try (QgaStub stub = QgaStub.start(dir.resolve("stub.sock"))) {
 *     String xml = RelayGuest.domainXml(name, null, List.of(diskXml), stub.socket());
 *     ... write xml, virsh create, wait for state='connected', virsh domfsfreeze ...
 * } finally {
 *     Libvirt.destroyDomainsWithPrefix(name);
 * }
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class RelayGuest {

    /** Path of the build script relative to the repository root. */
    public static final String SCRIPT = "deploy/scripts/qga-relay-guest.sh";

    /** Name of the guest-agent virtio-serial port (the one libvirt talks to). */
    public static final String AGENT_CHANNEL = "org.qemu.guest_agent.0";

    /** Name of the virtio-serial port whose host side connects to the stub. */
    public static final String RELAY_CHANNEL = "stub.relay";

    /** What the guest prints on its serial console once both ports are open. */
    public static final String READY_LINE = "relay ready";

    /** Guest memory in MiB. */
    public static final int MEMORY_MIB = 256;

    /** Name of the cache directory (below {@link Libvirt#scratchDir(String)}'s parent). */
    static final String CACHE_NAME = "relay-guest";

    private static final Logger LOG = LoggerFactory.getLogger(RelayGuest.class);

    private static final GuestBuild.Once<Files> PREPARED = new GuestBuild.Once<>(RelayGuest::build);

    private RelayGuest() {
    }

    /**
     * The relay guest's boot files.
     *
     * @param kernel the kernel ({@code vmlinuz}), readable by {@value Libvirt#QEMU_USER}
     * @param initrd the initramfs ({@code initrd.gz}), readable by {@value Libvirt#QEMU_USER}
     */
    public record Files(Path kernel, Path initrd) {
    }

    /**
     * Builds the kernel and initramfs once per machine (cached in
     * {@code relay-guest} below {@link Libvirt#scratchDir(String)}'s parent,
     * by default {@code /var/lib/stratus-test/relay-guest}) and once per JVM
     * checks the cache; later calls return the remembered result at once (a
     * failure is remembered too). The first build downloads two Debian
     * packages (~27 MB, nothing is installed) and takes about 5–10 s; a cached
     * run about 10 ms.
     *
     * <p>The script is found like {@link Libvirt}'s: under
     * {@code $STRATUS_REPO} when set, else in the working directory or the
     * nearest parent that contains it.
     *
     * @return the kernel and initramfs paths
     * @throws IllegalStateException if the script is missing, fails or times
     *     out (the message carries its output), or prints no usable paths
     */
    public static Files prepare() {
        return PREPARED.get();
    }

    private static Files build() {
        var paths = GuestBuild.run(SCRIPT, CACHE_NAME, LOG, List.of("RELAY_KERNEL", "RELAY_INITRD"));
        return new Files(paths.get("RELAY_KERNEL"), paths.get("RELAY_INITRD"));
    }

    /**
     * The relay guest's domain XML, with its serial console written to
     * {@link #consoleLog(String, Path) NAME-console.log next to the stub
     * socket}. Calls {@link #prepare()} for the boot files.
     *
     * @param name domain name; use {@link Libvirt#TEST_DOMAIN_PREFIX} so leftovers get removed
     * @param uuid domain UUID, or null to let libvirt choose one
     * @param diskXmlElements complete {@code <disk>} (or other device) elements, put verbatim
     *     inside {@code <devices>}; may be empty
     * @param stubSocket the {@link QgaStub#socket() stub's socket}, which qemu connects to
     * @return the XML, for {@code virsh create} or {@code virsh define}
     * @throws IllegalStateException if {@link #prepare()} fails
     */
    public static String domainXml(String name, String uuid, List<String> diskXmlElements, Path stubSocket) {
        return domainXml(name, uuid, diskXmlElements, stubSocket, consoleLog(name, stubSocket));
    }

    /**
     * Like {@link #domainXml(String, String, List, Path)}, with the serial
     * console going to {@code consoleLog} (in a directory qemu or virtlogd can
     * write; a {@link Libvirt#scratchDir(String)} is fine), or, if it is null,
     * to a pty.
     *
     * @param name domain name
     * @param uuid domain UUID, or null
     * @param diskXmlElements device elements put verbatim inside {@code <devices>}
     * @param stubSocket the stub's socket
     * @param consoleLog file receiving the guest's console, or null for a pty
     * @return the XML
     * @throws IllegalStateException if {@link #prepare()} fails
     */
    public static String domainXml(String name, String uuid, List<String> diskXmlElements, Path stubSocket,
            Path consoleLog) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(diskXmlElements, "diskXmlElements");
        Objects.requireNonNull(stubSocket, "stubSocket");
        Files files = prepare();
        StringBuilder xml = new StringBuilder();
        xml.append("<domain type='qemu'>\n");
        xml.append("  <name>").append(escape(name)).append("</name>\n");
        if (uuid != null) {
            xml.append("  <uuid>").append(escape(uuid)).append("</uuid>\n");
        }
        xml.append("  <memory unit='MiB'>").append(MEMORY_MIB).append("</memory>\n");
        xml.append("  <vcpu>1</vcpu>\n");
        xml.append("  <os>\n");
        xml.append("    <type arch='x86_64'>hvm</type>\n");
        xml.append("    <kernel>").append(escape(files.kernel().toString())).append("</kernel>\n");
        xml.append("    <initrd>").append(escape(files.initrd().toString())).append("</initrd>\n");
        xml.append("    <cmdline>console=ttyS0 quiet</cmdline>\n");
        xml.append("  </os>\n");
        xml.append("  <on_poweroff>destroy</on_poweroff>\n");
        xml.append("  <on_reboot>destroy</on_reboot>\n");
        xml.append("  <on_crash>destroy</on_crash>\n");
        xml.append("  <devices>\n");
        for (String element : diskXmlElements) {
            xml.append("    ").append(element.strip()).append('\n');
        }
        if (consoleLog != null) {
            xml.append("    <serial type='file'><source path='").append(escape(consoleLog.toString()))
                    .append("'/><target port='0'/></serial>\n");
        } else {
            xml.append("    <serial type='pty'><target port='0'/></serial>\n");
        }
        xml.append("    <channel type='unix'><source mode='bind'/><target type='virtio' name='")
                .append(AGENT_CHANNEL).append("'/></channel>\n");
        xml.append("    <channel type='unix'><source mode='connect' path='").append(escape(stubSocket.toString()))
                .append("'><reconnect enabled='yes' timeout='1'/></source><target type='virtio' name='")
                .append(RELAY_CHANNEL).append("'/></channel>\n");
        xml.append("    <memballoon model='none'/>\n");
        xml.append("  </devices>\n");
        xml.append("</domain>\n");
        return xml.toString();
    }

    /**
     * Where {@link #domainXml(String, String, List, Path)} sends the guest's
     * serial console: {@code NAME-console.log} in the stub socket's directory.
     * It ends with {@value #READY_LINE}{@code : ...} once the relay runs, or an
     * {@code relay: FAILED: ...} line.
     *
     * @param name domain name
     * @param stubSocket the stub's socket
     * @return the log file (it exists once the domain has started)
     */
    public static Path consoleLog(String name, Path stubSocket) {
        return stubSocket.toAbsolutePath().resolveSibling(name + "-console.log");
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace("'", "&apos;").replace("\"", "&quot;");
    }
}
