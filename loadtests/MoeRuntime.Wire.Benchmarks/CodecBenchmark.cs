using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using MoeRuntime.LoadTests;
using MoeRuntime.Model;
using MoeRuntime.Model.Wire;
using static TorchSharp.torch;

namespace MoeRuntime.Wire.Benchmarks;

/// <summary>
/// The payload codec before and after, side by side in one run: encode (a gathered float32 tensor to the payload array)
/// and decode (the array back to a float32 tensor, disposed), median microseconds of N timed calls per case.
/// </summary>
static class CodecBenchmark
{
    public static int Run(string[] args)
    {
        var a = new Arguments(args);
        int iterations = a.Int("--iterations", 300, 10, 100_000);
        set_num_threads(1);
        var table = new MarkdownTable("rows x hidden", "MiB fp32", "encode old", "encode new fp32", "encode fp16", "encode bf16",
            "decode old", "decode new fp32", "decode fp16", "decode bf16");
        foreach (int hidden in new[] { 256, 4096 })
            foreach (int rows in new[] { 1, 16, 128 })
            {
                using Tensor source = randn(rows * 2, hidden);
                using Tensor indices = arange(0, rows * 2, 2, ScalarType.Int64);
                double Encode(Func<Tensor, byte[]> encode) => Median(iterations, () =>
                {
                    using Tensor gathered = source.index_select(0, indices);
                    long t = Stopwatch.GetTimestamp();
                    byte[] data = encode(gathered);
                    long elapsed = Stopwatch.GetTimestamp() - t;
                    GC.KeepAlive(data);
                    return elapsed;
                });
                using Tensor gathered = source.index_select(0, indices);
                byte[] fp32 = OldEncode(gathered), fp16 = WireCodec.Encode(gathered, WireFormat.Float16), bf16 = WireCodec.Encode(gathered, WireFormat.BFloat16);
                double Decode(Func<Tensor> decode) => Median(iterations, () =>
                {
                    long t = Stopwatch.GetTimestamp();
                    using Tensor back = decode();
                    return Stopwatch.GetTimestamp() - t;
                });
                table.Add($"{rows} x {hidden}", F(rows * hidden * 4 / 1048576.0, "0.000"),
                    F(Encode(OldEncode)), F(Encode(g => WireCodec.Encode(g, WireFormat.Float32))),
                    F(Encode(g => WireCodec.Encode(g, WireFormat.Float16))), F(Encode(g => WireCodec.Encode(g, WireFormat.BFloat16))),
                    F(Decode(() => OldDecode(fp32, rows, hidden))), F(Decode(() => WireCodec.Decode(fp32, rows, hidden, WireFormat.Float32, CPU))),
                    F(Decode(() => WireCodec.Decode(fp16, rows, hidden, WireFormat.Float16, CPU))),
                    F(Decode(() => WireCodec.Decode(bf16, rows, hidden, WireFormat.BFloat16, CPU))));
            }
        Console.WriteLine($"Payload codec, median µs of {iterations} calls per cell (one libtorch thread; decode includes disposing the tensor):\n");
        Console.WriteLine(table.Render());
        return 0;
    }

    /// <summary>The codec as it was (TensorPayloads before the wire formats): converted views, then a copy to a new array.</summary>
    static byte[] OldEncode(Tensor matrix)
    {
        using Tensor cpu = matrix.to(ScalarType.Float32).cpu().contiguous();
        return MemoryMarshal.AsBytes(TensorSpans.Floats(cpu)).ToArray();
    }

    /// <summary>The decoder as it was: a new tensor, the array copied into it.</summary>
    static Tensor OldDecode(byte[] data, int rows, int columns)
    {
        Tensor cpu = empty([rows, columns], ScalarType.Float32);
        cpu.bytes = data;
        return cpu;
    }

    static double Median(int iterations, Func<long> timed)
    {
        for (int i = 0; i < Math.Min(20, iterations); i++) timed();
        var ticks = new long[iterations];
        for (int i = 0; i < iterations; i++) ticks[i] = timed();
        Array.Sort(ticks);
        return ticks[iterations / 2] * 1e6 / Stopwatch.Frequency;
    }

    static string F(double value, string format = "0.0") => value.ToString(format, CultureInfo.InvariantCulture);
}
