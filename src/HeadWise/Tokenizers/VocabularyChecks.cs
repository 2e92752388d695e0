namespace HeadWise.Tokenizers;

/// <summary>Validation shared by the tokenizer constructors; failures are <see cref="InvalidModelFileException"/> naming the source.</summary>
internal static class VocabularyChecks
{
    public static void NotEmpty<T>(string source, T[]? array, string what)
    {
        if (array is null || array.Length == 0) throw new InvalidModelFileException(source, $"{what} is missing or empty");
    }

    public static void SameLength<T>(string source, T[]? array, int expected, string what)
    {
        if (array is not null && array.Length != expected)
            throw new InvalidModelFileException(source, $"{what} has {array.Length} entries but the vocabulary has {expected} tokens");
    }

    public static void IdInRange(string source, int? id, int vocabSize, string what)
    {
        if (id is int v && (v < 0 || v >= vocabSize))
            throw new InvalidModelFileException(source, $"{what} {v} is outside the vocabulary (0..{vocabSize - 1})");
    }

    public static TokenType[] Types(string source, int[]? tokenTypes, int vocabSize)
    {
        var types = new TokenType[vocabSize];
        if (tokenTypes is null) { Array.Fill(types, TokenType.Normal); return types; }
        for (int i = 0; i < vocabSize; i++)
        {
            if (tokenTypes[i] < 0 || tokenTypes[i] > (int)TokenType.Byte)
                throw new InvalidModelFileException(source, $"token type {tokenTypes[i]} of token {i} is not a known type (0..6)");
            types[i] = (TokenType)tokenTypes[i];
        }
        return types;
    }

    /// <summary>Escapes control characters so that a label fits on one line.</summary>
    public static string Printable(string s)
    {
        if (!s.Any(char.IsControl)) return s;
        var sb = new System.Text.StringBuilder(s.Length + 4);
        foreach (var c in s)
            sb.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ when char.IsControl(c) => $"\\x{(int)c:X2}", _ => c.ToString() });
        return sb.ToString();
    }
}
