package io.clicktls.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FileStorage#lock} on a really full volume (a 1 MiB tmpfs filled until ENOSPC): the lock file cannot be
 * written, yet the lock is taken, and it still keeps a second process out (an OS file lock), until that process dies.
 * Needs the right to mount; skipped with a message otherwise.
 */
class FullDiskLockIT {

    @TempDir
    Path dir;

    private Path data;
    private boolean mounted;
    private Process holder;

    /** The other process: takes the lock on the folder given, says "held", and keeps it until killed. */
    public static void main(String[] args) throws Exception {
        Storage.Lock lock = new FileStorage(Paths.get(args[0])).lock("ca", Duration.ofMinutes(1));
        System.out.println("held " + lock);
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    @BeforeEach
    void mountAndFill() throws Exception {
        data = Files.createDirectory(dir.resolve("data"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", data.toString())
                .redirectErrorStream(true)
                .start();
        String said = new String(mount.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        Assumptions.assumeTrue(mount.waitFor() == 0, () -> "cannot mount a tmpfs to fill (needs root): " + said);
        mounted = true;
        new FileStorage(data).store("ca/root.pem", "stored before the disk filled".getBytes(StandardCharsets.UTF_8));
        ByteBuffer chunk = ByteBuffer.allocate(4096);
        try (FileChannel filler =
                FileChannel.open(data.resolve("filler"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            while (true) {
                chunk.clear();
                filler.write(chunk);
            }
        } catch (IOException e) {
            assertThat(e.getMessage()).contains("No space left on device");
        }
    }

    @AfterEach
    void unmount() throws Exception {
        if (holder != null) {
            holder.destroyForcibly().waitFor();
        }
        if (mounted) {
            new ProcessBuilder("umount", "-l", data.toString()).start().waitFor();
        }
    }

    @Test
    void onAFullDiskTheLockIsStillTakenAndKeepsAnotherProcessOutUntilItDies() throws Exception {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        holder = new ProcessBuilder(List.of(
                        java,
                        "-cp",
                        System.getProperty("java.class.path"),
                        FullDiskLockIT.class.getName(),
                        data.toString()))
                .redirectErrorStream(true)
                .start();
        BufferedReader output =
                new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
        String line;
        do {
            line = output.readLine();
        } while (line != null && !line.startsWith("held"));
        assertThat(line).as("the other process took the lock on the full disk").startsWith("held");

        FileStorage storage = new FileStorage(data);
        CompletableFuture<Storage.Lock> mine = CompletableFuture.supplyAsync(() -> {
            try {
                return storage.lock("ca", Duration.ofMinutes(1));
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(waitFor(mine, Duration.ofSeconds(2)))
                .as("kept out while the other process holds the lock")
                .isNull();

        holder.destroyForcibly().waitFor();
        Storage.Lock lock = waitFor(mine, Duration.ofSeconds(10));
        assertThat(lock).as("taken once the holder died").isNotNull();
        lock.close();
        assertThat(data.resolve(".locks/ca.lock")).doesNotExist();
        assertThat(new String(storage.load("ca/root.pem").orElseThrow(), StandardCharsets.UTF_8))
                .isEqualTo("stored before the disk filled");
    }

    private static Storage.Lock waitFor(CompletableFuture<Storage.Lock> lock, Duration limit)
            throws InterruptedException, ExecutionException {
        try {
            return lock.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return null;
        }
    }
}
