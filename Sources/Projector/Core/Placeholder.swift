// The warehouse side; see ProjectorService.swift.
