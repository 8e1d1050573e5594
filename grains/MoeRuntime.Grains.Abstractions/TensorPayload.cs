namespace MoeRuntime.Grains;

/// <summary>
/// A matrix of activations on the wire: row-major bytes in one blob plus its shape and element type, so a batch of token
/// rows crosses as one buffer copy instead of element by element.
/// </summary>
[GenerateSerializer, Immutable, Alias("moe.TensorPayload")]
public sealed record TensorPayload
{
    /// <summary>A float32 payload.</summary>
    public TensorPayload(byte[] data, int rows, int columns)
        : this(data, rows, columns, PayloadElement.Float32)
    {
    }

    public TensorPayload(byte[] data, int rows, int columns, PayloadElement element)
    {
        int size = ElementBytes(element);
        if (rows < 0 || columns < 0 || (long)rows * columns * size != data.Length)
            throw new ArgumentException($"payload of {data.Length} bytes does not hold a {Name(element)} [{rows}, {columns}] matrix ({(long)rows * columns * size} bytes)");
        Data = data;
        Rows = rows;
        Columns = columns;
        Element = element;
    }

    [Id(0)] public byte[] Data { get; }
    [Id(1)] public int Rows { get; }
    [Id(2)] public int Columns { get; }

    /// <summary>The element type of <see cref="Data"/>; a payload from a rank that predates it reads as float32.</summary>
    [Id(4)] public PayloadElement Element { get; }

    /// <summary>Bytes of one row.</summary>
    public int RowBytes => Columns * ElementBytes(Element);

    /// <summary>A new payload holding rows [row, row + rows) of this one, in the same element type.</summary>
    public TensorPayload Slice(int row, int rows) =>
        new(Data.AsSpan(row * RowBytes, rows * RowBytes).ToArray(), rows, Columns, Element);

    /// <summary>Bytes per element of <paramref name="element"/>.</summary>
    public static int ElementBytes(PayloadElement element) => element switch
    {
        PayloadElement.Float32 => sizeof(float),
        PayloadElement.Float16 or PayloadElement.BFloat16 => 2,
        _ => throw new ArgumentException($"unknown payload element type {(int)element} (float32, float16, bfloat16)", nameof(element)),
    };

    static string Name(PayloadElement element) => element switch
    {
        PayloadElement.Float16 => "float16",
        PayloadElement.BFloat16 => "bfloat16",
        _ => "float32",
    };

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

/// <summary>The element type of a <see cref="TensorPayload"/> (numbered as <c>MoeRuntime.Model.Wire.WireFormat</c>).</summary>
[GenerateSerializer, Alias("moe.PayloadElement")]
public enum PayloadElement
{
    Float32 = 0,
    Float16 = 1,
    BFloat16 = 2,
}
