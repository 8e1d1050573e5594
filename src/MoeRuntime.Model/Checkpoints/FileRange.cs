using Microsoft.Win32.SafeHandles;

namespace MoeRuntime.Model.Checkpoints;

/// <summary>Positional reads of an exact byte range, reporting failures as <see cref="CheckpointException"/>.</summary>
internal static class FileRange
{
    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/> without moving any shared file position.</summary>
    internal static void ReadExactly(string path, string? tensor, SafeFileHandle file, Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            int read;
            try
            {
                read = RandomAccess.Read(file, destination, offset);
            }
            catch (IOException e)
            {
                throw new CheckpointException(path, tensor, $"could not be read at byte {offset}: {e.Message}", e);
            }

            if (read == 0)
            {
                // Lengths were checked on open, so a short read means the file shrank since.
                throw new CheckpointException(path, tensor, $"could not be read: the file ends at byte {offset}, before the expected data");
            }

            destination = destination[read..];
            offset += read;
        }
    }
}
