using System.Collections.Frozen;

namespace MoeRuntime.Model.Tokenization;

/// <summary>
/// GPT-2's byte-to-character alphabet that byte-level BPE vocabularies are written in: printable
/// Latin-1 bytes stand for themselves, every other byte is shifted to U+0100 and up so that no
/// vocabulary entry contains whitespace or control characters (a space appears as 'Ġ').
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly FrozenDictionary<char, byte> ByteByChar = BuildByteByChar();

    /// <summary>Maps a vocabulary entry back to the bytes it stands for; false if it is not in the alphabet.</summary>
    public static bool TryGetBytes(string token, out byte[] bytes)
    {
        bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            if (!ByteByChar.TryGetValue(token[i], out bytes[i]))
                return false;
        }
        return true;
    }

    private static FrozenDictionary<char, byte> BuildByteByChar()
    {
        var byteByChar = new Dictionary<char, byte>(256);
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            char c = printable ? (char)b : (char)(256 + shifted++);
            byteByChar[c] = (byte)b;
        }
        return byteByChar.ToFrozenDictionary();
    }
}
