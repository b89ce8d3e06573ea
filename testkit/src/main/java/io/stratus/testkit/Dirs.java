package io.stratus.testkit;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Directory chores of the fixtures: deleting a tree, handing a directory over to another OS user. */
final class Dirs {

    private static final Logger LOG = LoggerFactory.getLogger(Dirs.class);

    private Dirs() {
    }

    /**
     * Deletes {@code path} and, if it is a directory, everything below it
     * (symbolic links are deleted, not followed). Best effort: what cannot be
     * deleted is logged, never thrown; a missing path is fine.
     *
     * @param path file or directory
     */
    static void deleteRecursively(Path path) {
        try {
            if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
                try (DirectoryStream<Path> children = Files.newDirectoryStream(path)) {
                    for (Path child : children) {
                        deleteRecursively(child);
                    }
                }
            }
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.warn("cannot delete {}", path, e);
        }
    }

    /**
     * An OS user and the group of the same name.
     *
     * @param user the user
     * @param group the group
     */
    record Owner(UserPrincipal user, GroupPrincipal group) {

        /**
         * Looks up user and group {@code name}.
         *
         * @param name for example {@code postgres}
         * @return the pair
         * @throws IOException if either does not exist
         */
        static Owner named(String name) throws IOException {
            UserPrincipalLookupService lookup = FileSystems.getDefault().getUserPrincipalLookupService();
            return new Owner(lookup.lookupPrincipalByName(name), lookup.lookupPrincipalByGroupName(name));
        }
    }

    /**
     * Makes {@code owner} the owner and group of {@code dir} (not following a
     * link) and sets its permissions.
     *
     * @param dir the directory
     * @param owner new owner and group
     * @param permissions for example {@code rwx------}
     * @throws IOException if the attributes cannot be set
     */
    static void handOver(Path dir, Owner owner, String permissions) throws IOException {
        PosixFileAttributeView view = Files.getFileAttributeView(dir, PosixFileAttributeView.class,
                LinkOption.NOFOLLOW_LINKS);
        view.setOwner(owner.user());
        view.setGroup(owner.group());
        view.setPermissions(PosixFilePermissions.fromString(permissions));
    }
}
