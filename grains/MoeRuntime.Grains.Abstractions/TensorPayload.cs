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
}
