package main

import "github.com/cronless/cronless/cmd/cronless/internal/cmdutil"

// What package main (root, backend, run, invoke, demo) uses of cmdutil,
// by its names here.
var (
	newTable     = cmdutil.NewTable
	tableTime    = cmdutil.TableTime
	csvTime      = cmdutil.CSVTime
	clip         = cmdutil.Clip
	intFlag      = cmdutil.IntFlag
	printResults = cmdutil.PrintResults
	loadTargets  = cmdutil.LoadTargets
	durationFlag = cmdutil.DurationFlag
	rangeFlag    = cmdutil.RangeFlag
	secondsFlag  = cmdutil.SecondsFlag
	stageConfig  = cmdutil.StageConfig
)
