namespace MoeRuntime.Serving.Dispatch;

/// <summary>
/// How an expert's rows are spread over its replicas: in contiguous chunks, one per replica (never more chunks than rows),
/// the first <c>rows % parts</c> chunks one row longer, and put back in row order. Each row's result does not depend on
/// which replica computed it, so the joined output is the one a single replica would give.
/// </summary>
public static class ReplicaChunks
{
    /// <summary>How many chunks <paramref name="rows"/> rows make over <paramref name="replicas"/> replicas.</summary>
    public static int Parts(int replicas, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(replicas);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        return Math.Min(replicas, rows);
    }

    /// <summary>The number of rows in chunk <paramref name="part"/> of <paramref name="parts"/>.</summary>
    public static int RowsOf(int rows, int parts, int part)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parts);
        if ((uint)part >= (uint)parts) throw new ArgumentOutOfRangeException(nameof(part), part, $"chunk {part} of {parts} does not exist");
        return rows / parts + (part < rows % parts ? 1 : 0);
    }

    /// <summary>The chunks' bytes back to back, in chunk order; they must add up to <paramref name="totalBytes"/>.</summary>
    public static byte[] Join(IReadOnlyList<byte[]> chunks, int totalBytes)
    {
        var data = new byte[totalBytes];
        int offset = 0;
        foreach (byte[] chunk in chunks)
        {
            if (chunk.Length > totalBytes - offset)
                throw new ArgumentException($"chunks hold more than the {totalBytes} bytes of the whole", nameof(chunks));
            chunk.CopyTo(data, offset);
            offset += chunk.Length;
        }
        if (offset != totalBytes) throw new ArgumentException($"chunks hold {offset} bytes, the whole {totalBytes}", nameof(chunks));
        return data;
    }
}
