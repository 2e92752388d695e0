using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace HeadWise.Tokenizers;

/// <summary>
/// A tokenizer.json "normalizer" as the Rust tokenizers library applies it: Sequence, Prepend, Replace (string or
/// regex), NFC/NFD/NFKC/NFKD, Lowercase, Strip. Llama-2-style files (and TinyStories-656K) use Prepend("▁") then
/// Replace(" " → "▁"). A type it does not know is an error naming it, never a silently different tokenization.
/// </summary>
public sealed class HfNormalizer
{
    private readonly Func<string, string>[] _steps;

    private HfNormalizer(Func<string, string>[] steps) => _steps = steps;

    public string Apply(string text)
    {
        foreach (var step in _steps) text = step(text);
        return text;
    }

    /// <summary>Null for a missing or null normalizer.</summary>
    public static HfNormalizer? Parse(JsonElement e, string source) =>
        e.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? null : new HfNormalizer(Steps(e, source).ToArray());

    private static IEnumerable<Func<string, string>> Steps(JsonElement e, string source)
    {
        InvalidModelFileException Bad(string what) => new(source, $"normalizer: {what}");
        if (e.ValueKind != JsonValueKind.Object) throw Bad("must be an object");
        var type = Str(e, "type") ?? throw Bad("field 'type' is missing");
        switch (type)
        {
            case "Sequence":
                if (!e.TryGetProperty("normalizers", out var list) || list.ValueKind != JsonValueKind.Array) throw Bad("Sequence needs a 'normalizers' array");
                foreach (var inner in list.EnumerateArray())
                    foreach (var step in Steps(inner, source)) yield return step;
                break;
            case "Prepend":
                var prepend = Str(e, "prepend") ?? throw Bad("Prepend needs 'prepend'");
                yield return s => s.Length == 0 ? s : prepend + s;   // as the Rust library: nothing is prepended to empty text
                break;
            case "Replace":
                var content = Str(e, "content") ?? throw Bad("Replace needs 'content'");
                if (!e.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object) throw Bad("Replace needs a 'pattern'");
                if (Str(pattern, "String") is { } literal) yield return s => literal.Length == 0 ? s : s.Replace(literal, content, StringComparison.Ordinal);
                else if (Str(pattern, "Regex") is { Length: > 0 } regex)
                {
                    Regex r;
                    try { r = new Regex(regex, RegexOptions.CultureInvariant, ByteLevelBpeTokenizer.PatternTimeout); }
                    catch (ArgumentException ex) { throw Bad($"Replace regex does not compile: {ex.Message}"); }
                    yield return s =>
                    {
                        try { return r.Replace(s, content); }
                        catch (RegexMatchTimeoutException) { throw Bad($"the Replace regex took over {ByteLevelBpeTokenizer.PatternTimeout.TotalSeconds:0.#} s on one match of this text: the pattern backtracks catastrophically"); }
                    };
                }
                else throw Bad("Replace pattern must be a String or a non-empty Regex");
                break;
            case "NFC": yield return s => s.Normalize(NormalizationForm.FormC); break;
            case "NFD": yield return s => s.Normalize(NormalizationForm.FormD); break;
            case "NFKC": yield return s => s.Normalize(NormalizationForm.FormKC); break;
            case "NFKD": yield return s => s.Normalize(NormalizationForm.FormKD); break;
            // Rust lowercases char by char with the full mapping; the one full mapping .NET's simple one lacks is İ → i̇.
            case "Lowercase": yield return s => s.Replace("\u0130", "i\u0307", StringComparison.Ordinal).ToLowerInvariant(); break;
            case "Strip":
                bool left = Bool(e, "strip_left", true), right = Bool(e, "strip_right", true);
                yield return s => left && right ? s.Trim() : left ? s.TrimStart() : right ? s.TrimEnd() : s;
                break;
            default:
                throw Bad($"type '{type}' is not supported (Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip)");
        }
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool Bool(JsonElement e, string name, bool fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;
}

/// <summary>
/// How the Rust tokenizers library prepares text for a BPE model with a normalizer and no pre-tokenizer: split off
/// the added tokens matched in raw text; normalize each remaining run (so each gets its own "▁" prefix); split off the
/// added tokens matched in normalized text, whose contents were normalized the same way (TinyStories-656K's
/// "&lt;|start_story|&gt;" matches only as "▁&lt;|start_story|&gt;", i.e. after a space or at the start); each piece
/// left is one word for the BPE model.
/// </summary>
public sealed record HfTextPipeline(HfNormalizer Normalizer, IReadOnlyList<(string Text, int Id)> RawAdded, IReadOnlyList<(string Text, int Id)> NormalizedAdded);
