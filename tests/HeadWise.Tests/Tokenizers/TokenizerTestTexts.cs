namespace HeadWise.Tests.Tokenizers;

/// <summary>Strings chosen to hit the awkward corners of SentencePiece / byte-level BPE.</summary>
internal static class TokenizerTestTexts
{
    public static readonly string[] Varied =
    [
        "",
        " ",
        "  ",
        "   ",
        "a",
        "Hello",
        "Hello world",
        " Hello world",
        "Hello world ",
        "  leading two spaces",
        "trailing spaces   ",
        "many     spaces    inside",
        "Once upon a time, there was a little girl named Lily.",
        "She said: \"Let's go to the park!\" and ran.",
        "line one\nline two",
        "\n",
        "\n\nblank lines\n\n",
        "tab\tseparated\tvalues",
        "Numbers: 0 1 12 123 1234 3.14159 -42 1,000,000",
        "2024-01-15T12:30:00Z",
        "punctuation!?.,;:()[]{}<>/\\|@#$%^&*_+=~`",
        "it's we're they've I'm you'll he'd",
        "café naïve résumé",
        "日本語のテキスト",
        "日本",
        "Привет, мир",
        "emoji 🙂👍🏽 and 🚀!",
        "’curly quotes’ “double”",
        "mixed\r\nline endings\r",
        "a\u00A0non-breaking space",
        "zero\u200Bwidth",
        "The the THE tHe",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "ab ab ab ab ab",
        "Lily and Tom were best friends. They liked to play in the sun.",
        "<s> is not special here </s> <unk>",
    ];

    /// <summary>Paragraphs (blank-line separated) of Moby-Dick, skipping the front matter.</summary>
    public static IEnumerable<string> MobyDickParagraphs(int count)
    {
        var text = File.ReadAllText(TestPaths.MobyDick).Replace("\r\n", "\n");
        return text.Split("\n\n").Where(p => p.Length > 200).Skip(20).Take(count);
    }
}
