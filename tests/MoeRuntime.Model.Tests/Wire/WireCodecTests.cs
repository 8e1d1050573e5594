using MoeRuntime.Model.Wire;
using Xunit;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Wire;

public sealed class WireCodecTests
{
    static float[] Values(int n, int seed)
    {
        var random = new Random(seed);
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-3, 3)));
        return values;
    }

    [Fact]
    public void Float32RoundTripIsExactOverSpansAndTensors()
    {
        float[] values = Values(6 * 7, 1);
        var bytes = new byte[values.Length * 4];
        WireCodec.Encode(values, bytes, WireFormat.Float32);
        var back = new float[values.Length];
        WireCodec.Decode(bytes, back, WireFormat.Float32);
        Assert.Equal(values, back);

        using var scope = NewDisposeScope();
        Tensor matrix = tensor(values).view(6, 7);
        byte[] data = WireCodec.Encode(matrix, WireFormat.Float32);
        Assert.Equal(bytes, data);
        Tensor decoded = WireCodec.Decode(data, 6, 7, WireFormat.Float32, CPU);
        Assert.Equal(ScalarType.Float32, decoded.dtype);
        Assert.Equal(new long[] { 6, 7 }, decoded.shape);
        Assert.Equal(values, decoded.data<float>().ToArray());
    }

    [Theory]
    [InlineData(WireFormat.Float16, 1.0 / 1024)]
    [InlineData(WireFormat.BFloat16, 1.0 / 128)]
    public void HalfFormatsRoundTripWithinTheirPrecisionAndAgreeWithLibtorch(WireFormat format, double relative)
    {
        float[] values = Values(5 * 9, 2);
        var bytes = new byte[values.Length * 2];
        WireCodec.Encode(values, bytes, format);
        var back = new float[values.Length];
        WireCodec.Decode(bytes, back, format);
        for (int i = 0; i < values.Length; i++)
            Assert.True(Math.Abs(back[i] - values[i]) <= relative * Math.Abs(values[i]) + 1e-7, $"{values[i]} came back as {back[i]}");

        using var scope = NewDisposeScope();
        Tensor matrix = tensor(values).view(5, 9);
        byte[] data = WireCodec.Encode(matrix, format);
        Assert.Equal(bytes, data);
        Tensor decoded = WireCodec.Decode(data, 5, 9, format, CPU);
        Assert.Equal(ScalarType.Float32, decoded.dtype);
        Assert.Equal(back, decoded.data<float>().ToArray());
    }

    [Fact]
    public void BFloat16RoundsToNearestEvenAndKeepsSpecials()
    {
        Assert.Equal(1f, WireCodec.FromBFloat16(WireCodec.ToBFloat16(1f)));
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
        Assert.Equal(1f, WireCodec.FromBFloat16(WireCodec.ToBFloat16(1f + 1f / 256)));
        Assert.Equal(1f + 1f / 64, WireCodec.FromBFloat16(WireCodec.ToBFloat16(1f + 3f / 256)));
        Assert.True(float.IsNaN(WireCodec.FromBFloat16(WireCodec.ToBFloat16(float.NaN))));
        Assert.Equal(float.PositiveInfinity, WireCodec.FromBFloat16(WireCodec.ToBFloat16(float.PositiveInfinity)));
        Assert.Equal(float.NegativeInfinity, WireCodec.FromBFloat16(WireCodec.ToBFloat16(float.MinValue)));
    }

    [Fact]
    public void Float16OverflowsToInfinity()
    {
        var bytes = new byte[2];
        WireCodec.Encode([70000f], bytes, WireFormat.Float16);
        var back = new float[1];
        WireCodec.Decode(bytes, back, WireFormat.Float16);
        Assert.Equal(float.PositiveInfinity, back[0]);
    }

    [Theory]
    [InlineData(WireFormat.Float32, 2 * 3 * 2)]
    [InlineData(WireFormat.Float16, 2 * 3 * 4)]
    [InlineData(WireFormat.BFloat16, 2 * 3 * 2 + 1)]
    public void WrongLengthForTheFormatIsRefusedNamingIt(WireFormat format, int length)
    {
        var e = Assert.Throws<ArgumentException>(() => WireCodec.Decode(new byte[length], 2, 3, format, CPU));
        Assert.Contains(WireCodec.Name(format), e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains($"{length} bytes", e.Message);
        Assert.Throws<ArgumentException>(() => WireCodec.Decode(new byte[length], new float[6], format));
        Assert.Throws<ArgumentException>(() => WireCodec.Encode(new float[6], new byte[length], format));
    }

    [Fact]
    public void EmptyMatricesRoundTrip()
    {
        using Tensor empty = zeros(0, 4);
        byte[] data = WireCodec.Encode(empty, WireFormat.Float16);
        Assert.Empty(data);
        using Tensor back = WireCodec.Decode(data, 0, 4, WireFormat.Float16, CPU);
        Assert.Equal(new long[] { 0, 4 }, back.shape);
    }
}

/// <summary>
/// Tests that read <see cref="PinnedTensors.Pinned"/>, a count for the whole process: any other test decoding at the same
/// time moves it, so they run alone (once the parallel tests are done).
/// </summary>
[CollectionDefinition(nameof(PinCountCollection), DisableParallelization = true)]
public sealed class PinCountCollection;

[Collection(nameof(PinCountCollection))]
public sealed class WireCodecPinTests
{
    [Fact]
    public void DecodedTensorsOwnTheirMemoryAndReleaseEveryPin()
    {
        byte[] data = WireCodec.Encode(tensor(new float[] { 1, 2, 3, 4 }).view(2, 2), WireFormat.Float32);
        // Earlier tests' tensors left to the finalizer release their pins on its thread: let them go first.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        int before = PinnedTensors.Pinned;
        using (Tensor decoded = WireCodec.Decode(data, 2, 2, WireFormat.Float32, CPU))
        using (Tensor widened = WireCodec.Decode(WireCodec.Encode(decoded, WireFormat.Float16), 2, 2, WireFormat.Float16, CPU))
        {
            // Copied, not shared: a later change to the array does not show in the tensor.
            BitConverter.GetBytes(9f).CopyTo(data, 0);
            Assert.Equal(1f, decoded.data<float>()[0]);
            Assert.Equal(1f, widened.data<float>()[0]);
        }
        Assert.Equal(before, PinnedTensors.Pinned);
    }
}
