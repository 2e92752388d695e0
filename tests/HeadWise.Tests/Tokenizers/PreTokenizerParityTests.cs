using System.Text;
using System.Text.Json.Nodes;
using HeadWise.Tests.Fixtures;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Tokenizers;

/// <summary>
/// The Llama-3 and Qwen2 pre-tokenizers (a Split regex before ByteLevel) against the Rust tokenizers library on a corpus,
/// not one sentence: GPT-2's real 50,257-token vocabulary and merges under each model's pre-tokenizer, on Moby-Dick, a
/// century of State of the Union addresses, and text made to hit each branch of the regexes (digit runs, which Llama-3
/// splits in threes and Qwen2 one by one; contractions in any case; CRLF and blank-line runs; trailing spaces; letters
/// outside ASCII; symbols glued to newlines).
/// </summary>
public class PreTokenizerParityTests
{
    private static readonly Lazy<string> Corpus = new(() =>
    {
        var sb = new StringBuilder(File.ReadAllText(TestPaths.MobyDick));
        foreach (var f in Directory.GetFiles(Path.Combine(TestPaths.Shared, "data", "sotu"), "19*.txt").Order()) sb.Append(File.ReadAllText(f));
        sb.Append(Branches);
        return sb.ToString();
    });

    private const string Branches =
        "In 1776, 12345678 men paid $3,000,000.50 (0x1F); call 555-0100 or +44 20 7946 0958.\n" +
        "DON'T, Won't, I'M, they'LL, she'D, we'VE, it'S: 'tis O'Neil's.\r\n\r\n\r\n" +
        "Tabs\tand  double  spaces   end here   \n   \n\n" +
        "Café naïve façade Ærøskøbing Ελληνικά Кириллица 日本語のテキスト 한국어 עברית العربية\n" +
        "emoji 😀👍🏽 and math ∑∫√∞ ≤≥ — “quotes” ‘single’ …\n" +
        "a!!!\n??\r\n;;;\n   leading spaces\n\u00a0non-breaking\u2003em-space end";

    [Theory]
    [InlineData("qwen2")]
    [InlineData("llama3")]
    public void Pre_tokenizer_matches_the_rust_tokenizers_on_a_corpus(string style)
    {
        var path = Path.Combine(TestPaths.NewTempDir("pretok"), "tokenizer.json");
        Gpt2TokenizerJson.Write(path);
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject
                {
                    ["type"] = "Split", ["behavior"] = "Isolated", ["invert"] = false,
                    ["pattern"] = new JsonObject { ["Regex"] = style == "qwen2" ? HfTokenizerJsonWriter.Qwen2Regex : HfTokenizerJsonWriter.Llama3Regex },
                },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
        };
        File.WriteAllText(path, json.ToJsonString());
        var ours = TokenizerJson.Load(path);

        TokenizerJsonParityTests.AssertSameIdsAndRoundTrip(path, ours, Corpus.Value); // about 1.2 M ids

        // The two regexes differ on digit runs, so the corpus tells them apart: "12345678" is 3+3+2 digits under
        // Llama-3 and eight single digits under Qwen2.
        var digits = ours.Encode(" 12345678", addBos: false).Select(i => ours.Decode([i])).ToArray();
        Assert.Equal(style == "qwen2" ? [" ", "1", "2", "3", "4", "5", "6", "7", "8"] : new[] { " ", "123", "456", "78" }, digits);
    }
}
