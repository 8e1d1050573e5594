using MoeRuntime.Grains.Routing;
using MoeRuntime.Model.Wire;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Tests;

/// <summary>The wire payload carries its element type; any rank decodes any format, and a wrong length is named.</summary>
public sealed class TensorPayloadTests
{
    [Theory]
    [InlineData(WireFormat.Float32, PayloadElement.Float32, 4)]
    [InlineData(WireFormat.Float16, PayloadElement.Float16, 2)]
    [InlineData(WireFormat.BFloat16, PayloadElement.BFloat16, 2)]
    public void PayloadsCarryTheirFormatAndDecodeToFloat32(WireFormat format, PayloadElement element, int bytes)
    {
        using var scope = NewDisposeScope();
        Tensor matrix = arange(12, ScalarType.Float32).view(3, 4) / 8;
        TensorPayload payload = TensorPayloads.FromTensor(matrix, format);
        Assert.Equal(element, payload.Element);
        Assert.Equal(3 * 4 * bytes, payload.Data.Length);
        Assert.Equal(4 * bytes, payload.RowBytes);
        Tensor back = TensorPayloads.ToTensor(payload, CPU);
        Assert.Equal(ScalarType.Float32, back.dtype);
        // Multiples of 1/8 below 2 are exact in every format.
        Assert.Equal(matrix.data<float>().ToArray(), back.data<float>().ToArray());
        Assert.Equal(format, TensorPayloads.Format(payload.Element));

        TensorPayload rows = payload.Slice(1, 2);
        Assert.Equal(element, rows.Element);
        Assert.Equal(matrix[1..3].data<float>().ToArray(), TensorPayloads.ToTensor(rows, CPU).data<float>().ToArray());
    }

    [Fact]
    public void APayloadWithoutAnElementTypeIsFloat32()
    {
        var payload = new TensorPayload(new byte[2 * 3 * sizeof(float)], 2, 3);
        Assert.Equal(PayloadElement.Float32, payload.Element);
        Assert.Equal(default, payload.Element);
    }

    [Fact]
    public void AWrongLengthForTheElementTypeIsRefusedNamingIt()
    {
        var e = Assert.Throws<ArgumentException>(() => new TensorPayload(new byte[2 * 3 * sizeof(float)], 2, 3, PayloadElement.Float16));
        Assert.Contains("float16 [2, 3]", e.Message);
        Assert.Contains("24 bytes", e.Message);
        Assert.Contains("12 bytes", e.Message);
        Assert.Throws<ArgumentException>(() => new TensorPayload([], 0, 0, (PayloadElement)9));
    }
}
