using System.Buffers.Binary;

namespace MoeRuntime.Telemetry.Tests.Export;

/// <summary>
/// Just enough protobuf to read an OTLP export in a test: a message's fields as (number, wire type, value), where
/// the value is the varint or fixed number, or the bytes of a length-delimited field (a string, a nested message
/// or a packed list).
/// </summary>
internal static class ProtoFields
{
    public readonly record struct Field(int Number, int WireType, ulong Number64, byte[] Bytes);

    public static List<Field> Read(ReadOnlySpan<byte> message)
    {
        var fields = new List<Field>();
        int at = 0;
        while (at < message.Length)
        {
            ulong key = Varint(message, ref at);
            int number = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0:
                    fields.Add(new Field(number, wire, Varint(message, ref at), []));
                    break;
                case 1:
                    fields.Add(new Field(number, wire, BinaryPrimitives.ReadUInt64LittleEndian(message[at..]), []));
                    at += 8;
                    break;
                case 2:
                    int length = checked((int)Varint(message, ref at));
                    fields.Add(new Field(number, wire, 0, message.Slice(at, length).ToArray()));
                    at += length;
                    break;
                case 5:
                    fields.Add(new Field(number, wire, BinaryPrimitives.ReadUInt32LittleEndian(message[at..]), []));
                    at += 4;
                    break;
                default:
                    throw new FormatException($"wire type {wire} at byte {at}");
            }
        }
        return fields;
    }

    /// <summary>A packed repeated fixed64 or double field's values.</summary>
    public static ulong[] Packed64(byte[] bytes) =>
        Enumerable.Range(0, bytes.Length / 8).Select(i => BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8 * i))).ToArray();

    static ulong Varint(ReadOnlySpan<byte> data, ref int at)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = data[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
        throw new FormatException("varint longer than 10 bytes");
    }
}
