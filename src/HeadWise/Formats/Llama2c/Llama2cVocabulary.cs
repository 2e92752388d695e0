using System.Buffers.Binary;
using System.Text;

namespace HeadWise.Formats.Llama2c;

/// <summary>
/// A llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 byte length, bytes.
/// The token count is not stored; it is whatever the file holds. Pieces are decoded as UTF-8 (invalid
/// sequences become U+FFFD); <see cref="RawPieces"/> keeps the exact bytes.
/// </summary>
internal sealed record Llama2cVocabulary(string[] Pieces, float[] Scores, int MaxTokenLength, byte[][] RawPieces)
{
    private const int AbsurdTokenLength = 1 << 16;

    public int Count => Pieces.Length;

    public static Llama2cVocabulary Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var data = BoundedFile.ReadAllBytes(path, "llama2.c tokenizer", FileLimits.Vocabulary);
        if (data.Length < 4) throw new InvalidModelFileException(path, $"truncated file: {data.Length} bytes, too short for max_token_length");

        var max = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (max <= 0 || max > AbsurdTokenLength)
            throw new InvalidModelFileException(path, $"max_token_length {max} is absurd (expected 1..{AbsurdTokenLength})");

        var pieces = new List<string>();
        var scores = new List<float>();
        var raw = new List<byte[]>();
        var at = 4;
        while (at < data.Length)
        {
            var index = pieces.Count;
            if (data.Length - at < 8)
                throw new InvalidModelFileException(path, $"truncated file: token {index} at byte {at} needs 8 bytes for score and length, {data.Length - at} remain");
            var score = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(at));
            var len = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(at + 4));
            at += 8;
            if (len < 0) throw new InvalidModelFileException(path, $"token {index} has negative length {len}");
            if (len > max) throw new InvalidModelFileException(path, $"token {index} length {len} exceeds max_token_length {max}");
            if (len > data.Length - at)
                throw new InvalidModelFileException(path, $"truncated file: token {index} claims {len} bytes at byte {at}, past the end of the file");
            var bytes = data.AsSpan(at, len).ToArray();
            at += len;
            raw.Add(bytes);
            pieces.Add(Encoding.UTF8.GetString(bytes));
            scores.Add(score);
        }
        if (pieces.Count == 0) throw new InvalidModelFileException(path, "no tokens after max_token_length");
        return new Llama2cVocabulary(pieces.ToArray(), scores.ToArray(), max, raw.ToArray());
    }
}
