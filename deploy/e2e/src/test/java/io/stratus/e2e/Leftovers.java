package io.stratus.e2e;

import io.stratus.proto.conductor.v1.ListServersRequest;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ListImagesRequest;
import io.stratus.testkit.CephCluster;
import io.stratus.testkit.Libvirt;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What a crash must never leave behind, looked for across the whole system after the
 * system settled: servers in a task state, images queued or saving, store bytes of no
 * active image or an upload still open (files of the filesystem store, RBD images of the
 * Ceph store), snapshot overlays and freeze markers in the instances' directories,
 * libvirt block jobs, RBD snapshots that no active image owns.
 * Each finding is one line naming the thing.
 */
final class Leftovers {
  private Leftovers() {}

  static List<String> find(StratusSystem system, CephCluster ceph) throws Exception {
    List<String> found = new ArrayList<>();
    List<Server> servers = system.servers(StratusSystem.ADMIN).listServers(
        ListServersRequest.newBuilder().setAllProjects(true).setPageSize(1000).build())
        .getServersList();
    for (Server s : servers) {
      if (s.getTaskState() != TaskState.TASK_STATE_NONE) {
        found.add("server " + s.getId() + " (" + s.getName() + ") in " + s.getTaskState());
      }
    }
    List<Image> images = new ArrayList<>();
    String page = "";
    do {
      var r = system.images(StratusSystem.ADMIN).listImages(ListImagesRequest.newBuilder()
          .setPageSize(500).setPageToken(page).build());
      images.addAll(r.getImagesList());
      page = r.getNextPageToken();
    } while (!page.isEmpty());
    for (Image i : images) {
      if (i.getStatus() == ImageStatus.IMAGE_STATUS_QUEUED
          || i.getStatus() == ImageStatus.IMAGE_STATUS_SAVING) {
        found.add("image " + i.getId() + " (" + i.getName() + ") " + i.getStatus());
      }
    }
    Set<String> active = images.stream().filter(i -> i.getStatus() == ImageStatus.IMAGE_STATUS_ACTIVE)
        .map(Image::getId).collect(Collectors.toSet());
    Path store = system.root.resolve("store");
    if (ceph == null && Files.isDirectory(store)) {
      for (Path f : files(store.resolve("partial"))) {
        found.add("an upload still open in the store: " + store.relativize(f));
      }
      for (Path f : files(store.resolve("data"))) {
        String id = f.getFileName().toString().replaceFirst("\\..*$", "");
        if (!active.contains(id)) {
          found.add("store bytes of no active image: " + store.relativize(f));
        }
      }
    }
    for (Path f : files(system.root.resolve("instances"))) {
      String name = f.getFileName().toString();
      if (name.contains(".stratus-snap-") || name.equals(".stratus-frozen")) {
        found.add("left in an instance directory: " + system.root.relativize(f));
      }
    }
    for (Server s : servers) {
      String domain = StratusSystem.domain(s.getId());
      if (Libvirt.virshResult("domstate", domain).exitCode() != 0) {
        continue;
      }
      for (String line : Libvirt.virsh("domblklist", domain).lines().skip(2).toList()) {
        String[] cols = line.trim().split("\\s+");
        if (cols.length < 2 || cols[0].isEmpty()) {
          continue;
        }
        String job = Libvirt.virshResult("blockjob", domain, cols[0], "--info").stdout();
        if (!job.isBlank() && !job.contains("No current block job")) {
          found.add("block job on " + domain + " " + cols[0] + ": " + job.strip());
        }
      }
    }
    if (ceph != null) {
      for (String name : rbd(ceph, "ls", ceph.imagePool()).lines().filter(l -> !l.isBlank()).toList()) {
        if (name.endsWith(".upload")) {
          found.add("an upload still open in the store: " + ceph.imagePool() + "/" + name);
        } else if (!active.contains(name)) {
          found.add("store bytes of no active image: " + ceph.imagePool() + "/" + name);
        }
      }
      for (String image : rbd(ceph, "ls", ceph.diskPool()).lines().filter(l -> !l.isBlank()).toList()) {
        for (String line : rbd(ceph, "snap", "ls", ceph.diskPool() + "/" + image).lines().skip(1).toList()) {
          String[] cols = line.trim().split("\\s+");
          if (cols.length < 2) {
            continue;
          }
          String snap = cols[1];
          if (!(snap.startsWith("image-") && active.contains(snap.substring("image-".length())))) {
            found.add("rbd snapshot no active image owns: " + ceph.diskPool() + "/" + image + "@" + snap);
          }
        }
      }
    }
    return found;
  }

  private static List<Path> files(Path dir) throws Exception {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).toList();
    }
  }

  private static String rbd(CephCluster ceph, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("rbd", "-c", ceph.conf().toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(cmd + ": " + out);
    }
    return out;
  }
}
