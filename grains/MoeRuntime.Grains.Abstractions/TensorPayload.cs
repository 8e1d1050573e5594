namespace MoeRuntime.Grains;

/// <summary>
/// A float32 matrix on the wire: row-major bytes in one blob plus its shape, so a batch of token rows
/// crosses as one buffer copy instead of element by element.
/// </summary>
[GenerateSerializer, Immutable, Alias("moe.TensorPayload")]
public sealed record TensorPayload
{
    public TensorPayload(byte[] data, int rows, int columns)
    {
        if (rows < 0 || columns < 0 || (long)rows * columns * sizeof(float) != data.Length)
            throw new ArgumentException($"payload of {data.Length} bytes does not hold a float32 [{rows}, {columns}] matrix");
        Data = data;
        Rows = rows;
        Columns = columns;
    }

    [Id(0)] public byte[] Data { get; }
    [Id(1)] public int Rows { get; }
    [Id(2)] public int Columns { get; }

    /// <summary>
    /// On an expert's answer, how the expert's rank spent the call (see <see cref="ExpertTiming"/>), so the caller can split
    /// the call into send, remote work and return; null on requests and from ranks that do not report it.
    /// </summary>
    [Id(3)] public ExpertTiming? Timing { get; init; }
}

/// <summary>
/// How an expert's rank spent one call: its <see cref="System.Diagnostics.Stopwatch"/> timestamp when the call began
/// (comparable with the caller's only on the same host) and the nanoseconds it took to decode the rows, compute
/// (weights made hot, FFN, checks) and encode the answer.
/// </summary>
[GenerateSerializer, Immutable, Alias("moe.ExpertTiming")]
public sealed record ExpertTiming([property: Id(0)] long Started, [property: Id(1)] long DecodeNanoseconds,
    [property: Id(2)] long ComputeNanoseconds, [property: Id(3)] long EncodeNanoseconds);
