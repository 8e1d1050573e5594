namespace MoeRuntime.Model.Tests;

/// <summary>
/// Double-precision building blocks of the tests' reference forward passes (<c>LoopReference</c>,
/// <c>TransformersReference</c>): plain loops over arrays, independent of the runtime's TorchSharp modules.
/// </summary>
static class ReferenceMath
{
    /// <summary>RMSNorm as transformers computes it: x / sqrt(mean(x²) + eps) · weight.</summary>
    public static double[] RmsNorm(double[] x, float[] weight, double epsilon)
    {
        double mean = x.Sum(v => v * v) / x.Length, scale = 1 / Math.Sqrt(mean + epsilon);
        return x.Select((v, i) => v * scale * weight[i]).ToArray();
    }

    public static double[] Softmax(double[] z)
    {
        double max = z.Max();
        double[] e = z.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    /// <summary>w (row-major, rows × cols) times x.</summary>
    public static double[] MatVec(float[] w, double[] x, int rows, int cols)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) y[r] += w[r * cols + c] * x[c];
        return y;
    }

    public static void Add(double[] into, double[] x)
    {
        for (int i = 0; i < into.Length; i++) into[i] += x[i];
    }
}
