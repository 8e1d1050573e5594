using System.Buffers.Binary;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace MoeRuntime.Model.Checkpoints;

/// <summary>
/// Reads and validates the header of one safetensors file: an 8-byte little-endian length, that many bytes of JSON,
/// then the data section. The file is untrusted, so every field is checked before an entry is handed out.
/// </summary>
internal static class SafetensorsHeader
{
    /// <summary>Headers past this size are treated as corrupt rather than allocated.</summary>
    internal const long MaxHeaderBytes = 100L * 1024 * 1024;

    internal const string MetadataKey = "__metadata__";

    /// <summary>The tensors described by the header of <paramref name="path"/>, in file order.</summary>
    internal static List<TensorEntry> Read(string path, SafeFileHandle file)
    {
        long fileLength = RandomAccess.GetLength(file);
        if (fileLength < sizeof(ulong))
        {
            throw new CheckpointException(path, null, $"is {fileLength} bytes long, too short to hold the 8-byte header length");
        }

        Span<byte> lengthBytes = stackalloc byte[sizeof(ulong)];
        FileRange.ReadExactly(path, null, file, lengthBytes, 0);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes)
        {
            throw new CheckpointException(path, null, $"declares a {headerLength}-byte header, over the {MaxHeaderBytes}-byte limit");
        }

        long dataStart = sizeof(ulong) + (long)headerLength;
        if (dataStart > fileLength)
        {
            throw new CheckpointException(path, null, $"declares a {headerLength}-byte header but the file is only {fileLength} bytes long");
        }

        var json = new byte[headerLength];
        FileRange.ReadExactly(path, null, file, json, sizeof(ulong));

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, null, $"has a header that is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            return ParseEntries(path, document.RootElement, dataStart, fileLength - dataStart);
        }
    }

    private static List<TensorEntry> ParseEntries(string path, JsonElement root, long dataStart, long dataLength)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new CheckpointException(path, null, $"has a header that is a JSON {root.ValueKind}, not an object");
        }

        var entries = new List<TensorEntry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals(MetadataKey))
            {
                if (property.Value.ValueKind != JsonValueKind.Object)
                {
                    throw new CheckpointException(path, null, $"has a {MetadataKey} that is not a JSON object");
                }

                continue;
            }

            // JSON allows repeated keys; a second description of the same tensor would make its bytes ambiguous.
            if (!names.Add(property.Name))
            {
                throw new CheckpointException(path, property.Name, "is described twice in the header");
            }

            entries.Add(ParseEntry(path, property.Name, property.Value, dataStart, dataLength));
        }

        CheckDataIsTiled(path, entries, dataStart, dataLength);
        return entries;
    }

    private static TensorEntry ParseEntry(string path, string name, JsonElement description, long dataStart, long dataLength)
    {
        if (description.ValueKind != JsonValueKind.Object)
        {
            throw new CheckpointException(path, name, "is not described by a JSON object");
        }

        if (!description.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw new CheckpointException(path, name, "has no \"dtype\" string");
        }

        string dtypeName = dtypeElement.GetString()!;
        if (!TensorDTypes.TryParse(dtypeName, out var dtype))
        {
            throw new CheckpointException(path, name, $"has dtype '{dtypeName}'; only F32, F16 and BF16 are supported");
        }

        long[] shape = ReadNonNegativeIntegers(path, name, description, "shape");
        long[] offsets = ReadNonNegativeIntegers(path, name, description, "data_offsets");
        if (offsets.Length != 2)
        {
            throw new CheckpointException(path, name, $"has {offsets.Length} data_offsets instead of [begin, end]");
        }

        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end)
        {
            throw new CheckpointException(path, name, $"has data_offsets [{begin}, {end}] that end before they begin");
        }

        if (end > dataLength)
        {
            throw new CheckpointException(
                path, name, $"ends at byte {end} of the data section, which holds only {dataLength} bytes: the file is truncated");
        }

        long expectedLength = ByteLength(path, name, shape, dtype);
        if (end - begin != expectedLength)
        {
            throw new CheckpointException(
                path, name, $"has shape {FormatShape(shape)} of {dtype} ({expectedLength} bytes) but data_offsets span {end - begin} bytes");
        }

        return new TensorEntry(name, path, dtype, shape, dataStart + begin, end - begin);
    }

    private static long[] ReadNonNegativeIntegers(string path, string name, JsonElement description, string field)
    {
        if (!description.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw new CheckpointException(path, name, $"has no \"{field}\" array");
        }

        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long value) || value < 0)
            {
                throw new CheckpointException(path, name, $"has \"{field}\" element {item.GetRawText()}, not a non-negative integer");
            }

            values[i++] = value;
        }

        return values;
    }

    private static long ByteLength(string path, string name, long[] shape, TensorDType dtype)
    {
        try
        {
            long length = dtype.ElementSize();
            foreach (long dimension in shape)
            {
                length = checked(length * dimension);
            }

            return length;
        }
        catch (OverflowException e)
        {
            throw new CheckpointException(path, name, $"has shape {FormatShape(shape)}, too large to address", e);
        }
    }

    /// <summary>
    /// The safetensors format requires tensors to cover the data section exactly, without overlaps or holes, so no
    /// byte is shared between two tensors and no bytes hide in between (which is how polyglot files are made).
    /// </summary>
    private static void CheckDataIsTiled(string path, List<TensorEntry> entries, long dataStart, long dataLength)
    {
        var byPosition = entries.OrderBy(e => e.Offset).ThenBy(e => e.Length).ToList();
        long expected = dataStart;
        TensorEntry? previous = null;
        foreach (var entry in byPosition)
        {
            if (entry.Offset < expected)
            {
                throw new CheckpointException(path, entry.Name, $"overlaps the data of tensor '{previous!.Name}'");
            }

            if (entry.Offset > expected)
            {
                throw new CheckpointException(
                    path, entry.Name, $"starts {entry.Offset - expected} bytes after the previous tensor ends; the data section has a hole");
            }

            expected = entry.Offset + entry.Length;
            previous = entry;
        }

        long unused = dataStart + dataLength - expected;
        if (unused > 0)
        {
            throw new CheckpointException(path, null, $"has {unused} bytes after the last tensor's data that no tensor describes");
        }
    }

    internal static string FormatShape(IEnumerable<long> shape) => $"[{string.Join(", ", shape)}]";
}
