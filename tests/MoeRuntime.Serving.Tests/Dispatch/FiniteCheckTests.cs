using MoeRuntime.Serving.Dispatch;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Tests.Dispatch;

public class FiniteCheckTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(33)]
    [InlineData(256 * 3 + 5)]
    public void FiniteValuesPassAtEveryLength(int length)
    {
        float[] values = Enumerable.Range(0, length).Select(i => (i - length / 2) * 1e30f).ToArray();
        values.AsSpan().Replace(0f, float.MaxValue);
        Assert.True(FiniteCheck.All(values));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void ANonFiniteValueFailsWhereverItIs(float bad)
    {
        // Every position of lengths around the vector width: the vector loop and the scalar tail both see it.
        foreach (int length in new[] { 1, 3, 8, 9, 16, 17, 64, 67 })
            for (int at = 0; at < length; at++)
            {
                var values = new float[length];
                values[at] = bad;
                Assert.False(FiniteCheck.All(values), $"{bad} at {at} of {length} passed");
            }
    }

    [Fact]
    public void ANegativeNaNAndTheLargestAndSmallestFloatsAreToldApart()
    {
        float negativeNaN = BitConverter.Int32BitsToSingle(unchecked((int)0xFFC0_0001));
        Assert.False(FiniteCheck.All([negativeNaN]));
        Assert.True(FiniteCheck.All([float.MaxValue, float.MinValue, float.Epsilon, -float.Epsilon, -0f]));
    }

    [Fact]
    public void ATensorAgreesWithLibtorchWhetherReadInPlaceOrNot()
    {
        using Tensor finite = randn(5, 256);
        using Tensor broken = finite.clone();
        broken[3, 100] = tensor(float.NaN);
        Assert.True(FiniteCheck.All(finite));
        Assert.False(FiniteCheck.All(broken));
        // Not contiguous, and not float32: libtorch decides.
        using Tensor transposed = broken.t();
        Assert.False(FiniteCheck.All(transposed));
        using Tensor half = finite.to_type(ScalarType.BFloat16);
        Assert.True(FiniteCheck.All(half));
    }

    [Fact]
    public void CheckingAnExpertsOutputInPlaceAllocatesNothing()
    {
        float[] values = new float[32 * 256];
        Assert.True(FiniteCheck.All(values));
        long before = GC.GetAllocatedBytesForCurrentThread();
        bool all = true;
        for (int i = 0; i < 100; i++) all &= FiniteCheck.All(values);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(all);
        Assert.Equal(0, allocated);
    }
}
