using System.Buffers.Binary;
using System.Text;

namespace MoeRuntime.Model.Tests.Checkpoints;

/// <summary>Hand-made safetensors files, for headers the writer would never produce.</summary>
internal static class RawSafetensors
{
    /// <summary>Writes the 8-byte length of <paramref name="headerJson"/>, the header, then <paramref name="dataBytes"/> bytes.</summary>
    public static void Write(string path, string headerJson, int dataBytes) =>
        Write(path, (ulong)Encoding.UTF8.GetByteCount(headerJson), headerJson, dataBytes);

    /// <summary>As <see cref="Write(string, string, int)"/>, but declaring <paramref name="declaredHeaderLength"/>.</summary>
    public static void Write(string path, ulong declaredHeaderLength, string headerJson, int dataBytes)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredHeaderLength);
        File.WriteAllBytes(path, [.. bytes, .. Encoding.UTF8.GetBytes(headerJson), .. new byte[dataBytes]]);
    }
}
