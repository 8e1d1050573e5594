using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests;

/// <summary>Proves the build made the native bridge loadable on this host (see MoeRuntime.Build.targets).</summary>
public class TorchSharpLoadsTests
{
    [Fact]
    public void MatmulRunsOnTheCpu()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        var b = tensor(new float[] { 5, 6, 7, 8 }, 2, 2);
        float[] product = a.matmul(b).data<float>().ToArray();
        Assert.Equal(new float[] { 19, 22, 43, 50 }, product);
    }
}
