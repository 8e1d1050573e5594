namespace MoeRuntime.Model.Checkpoints;

/// <summary>
/// Writes files under a hidden temporary name next to their destination and renames them into place, so a crash
/// leaves either the old file or the complete new one, never a half-written file under the real name.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes a temporary sibling of <paramref name="path"/> through <paramref name="write"/> and returns its path.</summary>
    internal static string WriteTemporary(string path, Action<FileStream> write)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        // A leading dot and a suffix other than .safetensors keep readers from mistaking it for a shard.
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
            write(stream);
            stream.Flush(flushToDisk: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }

        return temporary;
    }

    /// <summary>Renames a file made by <see cref="WriteTemporary"/> to its destination, replacing any older file.</summary>
    internal static void Commit(string temporary, string path) => File.Move(temporary, path, overwrite: true);

    /// <summary>Writes <paramref name="path"/> atomically.</summary>
    internal static void Write(string path, Action<FileStream> write) => Commit(WriteTemporary(path, write), path);
}
