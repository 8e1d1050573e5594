namespace MoeRuntime.Model.DefaultModel;

/// <summary>Coarse classes of byte tokens; tokens of one class share an embedding direction.</summary>
enum CharacterClass
{
    Lowercase, Uppercase, Digit, Space, Punctuation, Other, Special,
}

static class CharacterClasses
{
    public const int Count = 7;

    public static CharacterClass Of(int token) => token switch
    {
        >= 'a' and <= 'z' => CharacterClass.Lowercase,
        >= 'A' and <= 'Z' => CharacterClass.Uppercase,
        >= '0' and <= '9' => CharacterClass.Digit,
        ' ' or '\n' or '\t' => CharacterClass.Space,
        >= '!' and <= '~' => CharacterClass.Punctuation,
        < 256 => CharacterClass.Other,
        _ => CharacterClass.Special,
    };
}
